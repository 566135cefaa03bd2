import json

import pytest

from gancore.config import ConfigError, build, load_preset, resolve
from gancore.recipes.progan.config import ProGANConfig, ablation_chain, table1_rows
from gancore.recipes import progan


@pytest.mark.parametrize("scale,preset", [("smoke", ""), ("reduced", ""), ("full", ""), ("full", "lsun256"),
                                          ("full", "cifar10"), ("full", "cifar10-gamma750")])
def test_every_preset_resolves(scale, preset):
    data_dir = "/nonexistent" if scale == "full" else None  # smoke/reduced use the shapes, which read no folder
    cfg = progan.load_config(scale=scale, preset=preset, data_dir=data_dir, dry_run=True)
    assert cfg.scale == scale and cfg.preset == preset
    assert cfg.out_dir


def test_full_presets_encode_the_paper():
    celeba = progan.load_config(scale="full", dry_run=True)
    assert (celeba.resolution, celeba.stabilize_kimg, celeba.fade_kimg) == (1024, 600, 600)  # App. A.1
    assert celeba.batch_sizes[1024] == 3 and celeba.batch_sizes[256] == 14 and celeba.batch_sizes[128] == 16
    assert (celeba.lr, celeba.beta1, celeba.beta2, celeba.adam_eps) == (0.001, 0.0, 0.99, 1e-8)
    assert (celeba.drift, celeba.n_critic, celeba.ema_decay, celeba.gp_lambda) == (0.001, 1, 0.999, 10.0)
    lsun = progan.load_config(scale="full", preset="lsun256", dry_run=True)
    assert (lsun.resolution, lsun.stabilize_kimg, lsun.mirror_augment) == (256, 800, True)  # App. A.2, App. G
    cifar = progan.load_config(scale="full", preset="cifar10", dry_run=True)
    g750 = progan.load_config(scale="full", preset="cifar10-gamma750", dry_run=True)
    assert (cifar.resolution, cifar.dataset, cifar.gp_gamma) == (32, "cifar10", 1.0)
    assert g750.gp_gamma == 750.0 and g750.resolution == 32  # §6.5


@pytest.mark.parametrize("key,value,match", [
    ("scael", "smoke", "(?i)did you mean .scale."),
    ("resolution", "32", "expected int"),
    ("eq_lr", 1, "expected bool"),
    ("g_norm", "btach", "did you mean 'batch'"),
    ("dataset", "imagenet", "choose one of"),
    ("ablation", "z", "choose one of"),
    ("batch_sizes", {4: "x"}, "expected int"),
    ("resolution", 48, "power of two"),
    ("total_kimg", -1, "total_kimg=-1.0 must be >= 0"),
    ("total_kimg", float("nan"), "total_kimg=nan"),
    ("total_kimg", float("inf"), "total_kimg=inf must be a finite number"),
    ("lr", float("nan"), "lr=nan"),
    ("lr", 0.0, r"lr=0.0 is out of range: it must be > 0"),
    ("lr", -0.001, "lr=-0.001 is out of range"),
    ("gp_lambda", -10.0, r"gp_lambda=-10.0 is out of range: it must be >= 0"),
    ("mbstd_group", 0, r"mbstd_group=0 is out of range: it must be >= 1"),
    ("beta2", 1.0, r"beta2=1.0 is out of range: it must be >= 0 and < 1"),
    ("dry_run", "maybe", r"dry_run=.maybe. has the wrong type; expected bool"),
    ("lr", "fast", "expected a number"),
    ("batch_size", 0, "batch_size=0 must be >= 1"),
    ("ckpt_every_kimg", -0.5, "ckpt_every_kimg"),
    ("dataset_size", 0, "dataset_size=0"),
    ("num_threads", -2, "num_threads"),
    ("data_dir", "/my/images", "dataset is 'shapes'.*-p dataset folder"),
])
def test_bad_values_are_clear_errors(key, value, match):
    with pytest.raises(ConfigError, match=match):
        progan.load_config(scale="smoke", **{key: value})


def test_unknown_scale_and_preset_list_choices():
    with pytest.raises(ConfigError, match="smoke, reduced, full"):
        progan.load_config(scale="medium")
    with pytest.raises(ConfigError, match="'lsun256'"):
        progan.load_config(scale="full", preset="celeba")


def test_unknown_key_in_preset_file_names_the_file(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "papers" / "progan").mkdir(parents=True)
    (root / "papers" / "progan" / "smoke.yaml").write_text("resolutoin: 16\n")
    monkeypatch.setenv("GANCORE_ROOT", str(root))
    with pytest.raises(ConfigError, match=r"smoke\.yaml.*resolution"):
        progan.load_config(scale="smoke")


def test_preset_extends_chain_and_explicit_values_win():
    values = load_preset("progan", "full", "cifar10-gamma750")
    assert values["gp_gamma"] == 750.0 and values["resolution"] == 32 and values["total_kimg"] == 0
    cfg = progan.load_config(scale="full", preset="cifar10-gamma750", gp_gamma=5.0, dry_run=True)
    assert cfg.gp_gamma == 5.0


def test_int_keys_survive_json_round_trip():
    cfg = progan.load_config(scale="full", dry_run=True)
    back = build(ProGANConfig, json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg


@pytest.mark.parametrize("row", ["a", "b", "c", "d", "e*", "e", "f", "g", "h"])
def test_table1_rows_accumulate(row):
    cfg = progan.load_config(scale="reduced", ablation=row)
    chain = ablation_chain(row)
    assert chain[0] == "a" and chain[-1] == row
    assert ("e*" in chain) == (row == "e*")
    expected = {}
    for r in chain:
        expected.update(table1_rows()[r]["set"])
    for key, value in expected.items():
        assert getattr(cfg, key) == value, (row, key)


def test_row_a_is_the_gulrajani_baseline():
    a = progan.load_config(scale="reduced", ablation="a")  # App. A.2
    assert not a.progressive and not a.mbstd and not a.eq_lr and not a.pixelnorm
    assert (a.g_norm, a.d_norm, a.g_act, a.g_out) == ("batch", "layer", "relu", "tanh")
    assert (a.lr, a.beta2, a.n_critic, a.drift, a.batch_size, a.latent_dim) == (1e-4, 0.9, 5, 0.0, 64, 128)
    assert not a.normalize_latent
    g = progan.load_config(scale="reduced", ablation="g")
    assert g.progressive and g.mbstd and g.eq_lr and g.pixelnorm and not g.mbdisc and g.batch_size == 16


def test_ablation_then_explicit_override():
    cfg = progan.load_config(scale="reduced", ablation="a", n_critic=2)
    assert cfg.n_critic == 2 and cfg.lr == 1e-4


def test_default_out_dir_names_scale_preset_and_row():
    cfg = progan.load_config(scale="reduced", ablation="e*")
    assert cfg.out_dir.endswith("runs/progan-reduced-row-estar")


def test_config_changes_ignore_resumable_fields_and_new_defaults():
    from gancore.engine import config_changes

    a = progan.load_config(scale="smoke", out_dir="/x")
    saved = json.loads(json.dumps(a.to_dict()))
    b = progan.load_config(scale="smoke", out_dir="/y", total_kimg=5.0, device="cpu")
    assert config_changes(saved, b) == {}
    c = progan.load_config(scale="smoke", out_dir="/x", lr=0.002)
    assert config_changes(saved, c) == {"lr": (0.005, 0.002)}
    del saved["mirror_augment"]  # a run from before the field existed resumes when the new field is at its default
    assert config_changes(saved, a) == {}
    d = progan.load_config(scale="smoke", mirror_augment=True)
    assert config_changes(saved, d) == {"mirror_augment": (False, True)}


def test_data_dir_required_for_real_datasets():
    with pytest.raises(ConfigError, match="needs data_dir"):
        progan.load_config(scale="reduced", dataset="cifar10")


def test_inception_needs_weights_path():
    with pytest.raises(ConfigError, match="inception_weights"):
        progan.load_config(scale="reduced", extractor="inception")


def test_claim_runs_apply_their_rows(tmp_path):
    main = progan.load_config(scale="smoke", out_dir=str(tmp_path), seed=3)
    rows = {r: progan.claims._claim_config(main, f"row_{r}", ablation=r) for r in "defg"}
    assert [rows[r].mbstd for r in "defg"] == [False, True, True, True]
    assert [rows[r].eq_lr for r in "defg"] == [False, False, True, True]
    assert [rows[r].pixelnorm for r in "defg"] == [False, False, False, True]
    assert all(c.seed == 3 and c.out_dir.startswith(str(tmp_path)) for c in rows.values())  # user values kept


@pytest.mark.parametrize("key,value", [("total_kimg", -1), ("batch_size", 0), ("final_num_images", 0)])
def test_biggan_shares_the_common_range_checks(key, value):
    from gancore.recipes import biggan

    with pytest.raises(ConfigError, match=key):
        biggan.load_config(scale="smoke", **{key: value})

"""alphaGAN's search (Tian et al. §3–5, Alg. 1–2): the search space and genotypes, the duality-gap estimator on a
closed-form game, the config's checks, the §5.1 split, full-scale dry runs (Table 2's parameter counts through the
recipe) and a search killed after one epoch that resumes to the bits of an uninterrupted one."""
import json
import math

import pytest
import torch
from torch import nn

from gancore.checkpoint import list_checkpoints, load_checkpoint
from gancore.errors import ConfigError
from gancore.recipes.alphagan import (build_images, build_networks, load_config, resolve_genotype, retrain_config,
                                      run, split_halves)
from gancore.search.duality_gap import duality_gap, worst_case_discriminator, worst_case_generator
from gancore.models.alphagan_space import (CELLS, NORMAL_OPS, PUBLISHED, UP_OPS, Genotype, derive_genotype, hamming,
                                     load_genotype, normal_edge_names, random_genotype, search_space_size,
                                     up_edge_names)
from state_compare import assert_same_state

# A search small enough for a few seconds per run on one CPU thread (the smoke preset at 4 / 8 channels).
TINY_SEARCH = dict(scale="smoke", mode="search", dataset_size=64, g_channels=4, d_channels=8, dim_z=8, batch_size=4,
                   weight_steps=1, worst_steps=2, arch_steps=1, sample_every_epochs=1000)


# ---------------------------------------------------------------------------------------------------------------------
# The search space
# ---------------------------------------------------------------------------------------------------------------------
def test_search_space_size():
    assert len(normal_edge_names()) == 9 and len(set(normal_edge_names())) == 9
    assert len(up_edge_names()) == 9 and len(set(up_edge_names())) == 9
    assert len(NORMAL_OPS) == 6 and len(UP_OPS) == 3
    n = search_space_size()
    assert n == len(NORMAL_OPS) ** len(normal_edge_names()) * len(UP_OPS) ** len(up_edge_names())
    assert n == (6 ** 3 * 3 ** 2) ** 3 * 3 ** 3  # per cell 3 normal and 2 up edges, plus the 3 cross-cell edges
    assert math.isclose(n, 2e11, rel_tol=0.05)  # the paper's "≈ 2 × 10¹¹"
    assert up_edge_names()[6:] == ["cell1_to_cell2", "cell1_to_cell3", "cell2_to_cell3"]


# ---------------------------------------------------------------------------------------------------------------------
# Genotypes
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("genotype", [PUBLISHED["alphagan_s"], PUBLISHED["alphagan_l"], random_genotype(3)],
                         ids=["alphagan_s", "alphagan_l", "random3"])
def test_genotype_round_trips(genotype, tmp_path):
    path = genotype.save(tmp_path / "genotype.json")
    data = json.loads(path.read_text())
    assert data["format"] == "gancore-alphagan-genotype/1"
    assert set(data["normal"]) == set(data["up"]) == set(CELLS)
    loaded = load_genotype(path)
    assert loaded == genotype and loaded.meta == genotype.meta
    assert load_genotype(tmp_path) == genotype  # a folder holding genotype.json
    assert load_genotype("genotype.json", run_dir=tmp_path) == genotype  # relative to the run folder
    assert load_genotype(genotype.compact()) == genotype  # inline JSON
    assert "meta" not in json.loads(genotype.compact())
    assert Genotype.from_dict(genotype.to_dict()) == genotype
    assert Genotype.from_flat(genotype.normal_ops(), genotype.up_ops()) == genotype
    rows = genotype.describe()
    assert [r["edge"] for r in rows] == normal_edge_names() + up_edge_names()
    assert [r["op"] for r in rows] == genotype.normal_ops() + genotype.up_ops()
    assert [r["kind"] for r in rows] == ["normal"] * 9 + ["up"] * 9


def test_published_names_and_random_genotypes():
    assert load_genotype("alphagan_s") == PUBLISHED["alphagan_s"]
    assert load_genotype(" alphagan_l ") == PUBLISHED["alphagan_l"]
    assert load_genotype("random:5") == random_genotype(5) == random_genotype(5)
    draws = [random_genotype(s) for s in range(8)]
    assert len({g.compact() for g in draws}) == 8  # different seeds, different members
    for g in draws:
        assert set(g.normal_ops()) <= set(NORMAL_OPS) and set(g.up_ops()) <= set(UP_OPS)
        assert len(g.normal_ops()) == len(g.up_ops()) == 9
    assert load_genotype("random:-2") == random_genotype(-2)
    assert load_genotype("random: 7 ") == random_genotype(7)


def test_derive_genotype_is_the_argmax_per_edge():
    normal_pick = [(3 * i + 1) % 6 for i in range(9)]
    up_pick = [(2 * i) % 3 for i in range(9)]
    alpha_n = torch.randn(9, 6, generator=torch.Generator().manual_seed(0)) * 0.1
    alpha_u = torch.randn(9, 3, generator=torch.Generator().manual_seed(1)) * 0.1
    alpha_n[torch.arange(9), torch.tensor(normal_pick)] = 5.0
    alpha_u[torch.arange(9), torch.tensor(up_pick)] = 5.0
    g = derive_genotype(alpha_n, alpha_u, meta={"epoch": 7})
    assert g.normal_ops() == [NORMAL_OPS[i] for i in normal_pick]
    assert g.up_ops() == [UP_OPS[i] for i in up_pick]
    assert g.meta == {"epoch": 7}
    # The cell layout of the flat α rows: rows 0-2 are cell 1's normal edges, rows 6-8 of α_up the cross edges
    assert g.normal[1] == tuple(NORMAL_OPS[i] for i in normal_pick[3:6])
    assert g.up[2] == tuple(UP_OPS[i] for i in up_pick[4:6]) and g.cross == tuple(UP_OPS[i] for i in up_pick[6:])
    # Softmax is monotone: the derived genotype of softmax(α) is that of α
    assert derive_genotype(alpha_n.softmax(-1), alpha_u.softmax(-1)) == g


def test_hamming_counts_differing_edges():
    s, l = PUBLISHED["alphagan_s"], PUBLISHED["alphagan_l"]
    assert hamming(s, s) == 0
    by_hand = sum(a != b for a, b in zip(s.normal_ops() + s.up_ops(), l.normal_ops() + l.up_ops()))
    assert hamming(s, l) == hamming(l, s) == by_hand > 0
    up = s.up_ops()
    up[8] = next(op for op in UP_OPS if op != up[8])
    assert hamming(s, Genotype.from_flat(s.normal_ops(), up)) == 1


def _edited(**change):
    data = PUBLISHED["alphagan_s"].to_dict()
    for key, value in change.items():
        part, name = key.split("__")
        data[part][name] = value
    return json.dumps(data)


@pytest.mark.parametrize("spec,needles", [
    (_edited(normal__cell1=["conv_9x9", "conv_1x1", "conv_1x1"]), ["conv_9x9", "sep_conv_3x3", "sep_conv_7x7"]),
    (_edited(up__cell2=["deconv", "pixelshuffle"]), ["pixelshuffle", "deconv, nearest, bilinear"]),
    (_edited(cross__cell1_to_cell3="conv_1x1"), ["conv_1x1", "valid cross ops", "bilinear"]),
    (_edited(normal__cell2=["conv_1x1", "conv_1x1"]), ["normal.cell2", "list of 3 ops", "node1->node2"]),
    (_edited(up__cell1=["deconv"]), ["up.cell1", "list of 2 ops", "input->node3"]),
    (_edited(normal__cell4=["conv_1x1"] * 3), ["cell4", "Expected shape", '"cell1": [3 ops]']),
    ('{"normal": {', ["not valid JSON"]),
    ("alphagan_xl", ["alphagan_xl", "alphagan_s", "alphagan_l", "random:<seed>"]),
    ("", ["alphagan_s", "alphagan_l", "random:<seed>"]),
    ("random:abc", ["random:<integer seed>"]),
    ("random:--5", ["random:<integer seed>"]),
    ("random:\u00b2", ["random:<integer seed>"]),
], ids=["normal-op", "up-op", "cross-op", "normal-count", "up-count", "cell-name", "inline-json", "unknown-name",
        "empty", "random-seed", "random-double-minus", "random-superscript"])
def test_bad_genotype_specs_raise_config_errors(spec, needles):
    with pytest.raises(ConfigError) as err:
        load_genotype(spec)
    for needle in needles:
        assert needle in str(err.value)


def test_broken_genotype_file(tmp_path):
    (tmp_path / "genotype.json").write_text('{"normal": {"cell1": ["conv_1x1",')
    for spec in (tmp_path / "genotype.json", tmp_path):
        with pytest.raises(ConfigError, match="is not valid JSON"):
            load_genotype(spec)
    with pytest.raises(ConfigError, match="does not exist"):
        load_genotype(tmp_path / "nowhere.json")
    (tmp_path / "other.json").write_text(_edited(normal__cell3=["conv_1x1", "sep_conv_9x9", "conv_1x1"]))
    with pytest.raises(ConfigError, match="other.json: normal.cell3 has unknown op 'sep_conv_9x9'"):
        load_genotype(tmp_path / "other.json")


def test_genotype_format_and_keys_are_checked():
    data = PUBLISHED["alphagan_s"].to_dict()
    with pytest.raises(ConfigError, match="format"):
        Genotype.from_dict({**data, "format": "something/2"})
    with pytest.raises(ConfigError, match="unknown genotype keys"):
        Genotype.from_dict({**data, "reduce": {}})
    with pytest.raises(ConfigError, match="must be a JSON object"):
        Genotype.from_dict(["conv_1x1"])


# ---------------------------------------------------------------------------------------------------------------------
# The config's checks
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["epochs", "weight_steps", "worst_steps", "arch_steps"])
@pytest.mark.parametrize("value", [0, -1])
def test_lengths_must_be_positive(field, value):
    with pytest.raises(ConfigError, match=f"{field}={value} is out of range"):
        load_config(scale="smoke", **{field: value})


@pytest.mark.parametrize("overrides,needle", [
    (dict(total_kimg=1.0), "total_kimg"),
    (dict(epoch=3), "'epoch'"),
    (dict(mode="search", genotype="alphagan_s"), "only used to retrain"),
    (dict(resolution=36), "multiple of 8"),
    (dict(val_fraction=1.0), "val_fraction"),
    (dict(relaxation="hard"), "relaxation"),
])
def test_bad_configs_raise(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(scale="smoke", **overrides)


def test_presets_resolve():
    full = load_config(scale="full", dataset="shapes")
    assert (full.epochs, full.weight_steps, full.worst_steps, full.arch_steps, full.batch_size) == (100, 20, 20, 20,
                                                                                                    64)
    assert (full.g_channels, full.d_channels, full.dim_z, full.resolution) == (256, 128, 128, 32)
    large = load_config(scale="full", preset="l", dataset="shapes")
    assert (large.weight_steps, large.worst_steps, large.arch_steps) == (390, 390, 20)
    stl = load_config(scale="full", preset="stl10", dataset="shapes")
    assert (stl.resolution, stl.bottom_width, stl.mode, stl.genotype) == (48, 6, "retrain", "alphagan_s")
    official = load_config(scale="full", preset="official", dataset="shapes")
    assert (official.retrain_iterations, official.retrain_n_critic) == (50000, 5)
    smoke = load_config(scale="smoke")
    # T counts D steps (the authors' inner_steps); n_critic only sets how many of them a G step follows
    assert smoke.epoch_images() == smoke.weight_steps * smoke.batch_size
    assert (full.n_critic, smoke.n_critic, load_config(scale="reduced").n_critic) == (5, 5, 1)


def test_retrain_config_and_resolve_genotype(tmp_path):
    cfg = load_config(scale="smoke", out_dir=str(tmp_path))
    r = retrain_config(cfg, genotype="alphagan_l", out_dir=tmp_path / "r", seed=9, iterations=7)
    assert (r.mode, r.genotype, r.out_dir, r.seed, r.retrain_iterations) == ("retrain", "alphagan_l",
                                                                             str(tmp_path / "r"), 9, 7)
    assert r.g_channels == cfg.g_channels and cfg.mode == "search+retrain"  # the rest is kept, the input untouched
    assert resolve_genotype(r) == PUBLISHED["alphagan_l"]
    random_genotype(4).save(tmp_path / "genotype.json")
    assert resolve_genotype(retrain_config(cfg, genotype="", out_dir=tmp_path)) == random_genotype(4)


def test_retrain_without_a_genotype_needs_a_search_result(tmp_path):
    cfg = load_config(scale="smoke", mode="retrain", genotype="", dataset_size=16, out_dir=str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="genotype.json"):
        run(cfg, progress=False)
    assert not (tmp_path / "empty" / "checkpoints").exists()


# ---------------------------------------------------------------------------------------------------------------------
# The §5.1 train / validation split
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,val_fraction", [(100, 0.5), (101, 0.3), (64, 0.1), (2, 0.01), (5, 0.99)])
def test_split_halves(n, val_fraction):
    train, val = split_halves(n, val_fraction=val_fraction, seed=0)
    assert len(val) == max(1, min(n - 1, round(n * val_fraction))) and len(train) == n - len(val)
    assert not set(train.tolist()) & set(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(n))
    assert torch.equal(train, train.sort().values) and torch.equal(val, val.sort().values)
    again = split_halves(n, val_fraction=val_fraction, seed=0)
    assert torch.equal(again[0], train) and torch.equal(again[1], val)


def test_split_halves_depends_on_the_seed():
    a = split_halves(200, val_fraction=0.5, seed=0)[1]
    b = split_halves(200, val_fraction=0.5, seed=1)[1]
    assert not torch.equal(a, b)


def test_build_images_at_48():
    """STL-10's 48² is not a power of two: images are made at 64² and area-resized."""
    cfg = load_config(scale="smoke", resolution=48, dataset_size=8)
    bank = build_images(cfg)
    assert bank.images.shape == (8, 3, 48, 48) and bank.images.dtype == torch.uint8
    x, _ = bank.batch(torch.arange(4), device=torch.device("cpu"))
    assert x.shape == (4, 3, 48, 48) and x.min() >= -1 and x.max() <= 1


# ---------------------------------------------------------------------------------------------------------------------
# The duality-gap estimator (Alg. 2) on f(x, y) = ½ a x² + b x y − ½ c y²
# ---------------------------------------------------------------------------------------------------------------------
class Scalar(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.v = nn.Parameter(torch.tensor(value, dtype=torch.float64))


def _game(a, b, c):
    def f(G, D):
        x, y = G.v, D.v
        return 0.5 * a * x ** 2 + b * x * y - 0.5 * c * y ** 2
    return f


def _sgd(lr):
    return lambda m: torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=lr)


@pytest.mark.parametrize("a,b,c,x,y", [(1.0, 1.0, 1.0, 1.0, 1.0), (2.0, 0.5, 1.0, -0.7, 0.3),
                                       (0.5, 2.0, 3.0, 0.4, -1.2), (1.0, 0.0, 1.0, 1.0, 1.0),
                                       (1.5, 1.0, 0.8, 0.0, 0.0)])
def test_duality_gap_of_the_quadratic_game(a, b, c, x, y):
    f = _game(a, b, c)
    G, D = Scalar(x), Scalar(y)
    D_bar = worst_case_discriminator(G=G, D=D, steps=200, d_loss=lambda g, d, r: -f(g, d), optimizer=_sgd(0.2))
    G_bar = worst_case_generator(G=G, D=D, steps=200, g_loss=lambda g, d, r: f(g, d), optimizer=_sgd(0.2))
    gap, minmax, maxmin = duality_gap(adv=f, G=G, D=D, G_bar=G_bar, D_bar=D_bar)
    # closed forms: y* = b x / c, x* = −b y / a
    expected_minmax = 0.5 * (a + b ** 2 / c) * x ** 2
    expected_maxmin = -0.5 * (c + b ** 2 / a) * y ** 2
    tol = dict(rtol=1e-3, atol=1e-9)
    torch.testing.assert_close(D_bar.v.detach(), torch.tensor(b * x / c, dtype=torch.float64), **tol)
    torch.testing.assert_close(G_bar.v.detach(), torch.tensor(-b * y / a, dtype=torch.float64), **tol)
    torch.testing.assert_close(minmax.detach(), torch.tensor(expected_minmax, dtype=torch.float64), **tol)
    torch.testing.assert_close(maxmin.detach(), torch.tensor(expected_maxmin, dtype=torch.float64), **tol)
    torch.testing.assert_close(gap.detach(), torch.tensor(expected_minmax - expected_maxmin, dtype=torch.float64),
                               **tol)
    assert float(gap.detach()) >= -1e-12
    # the originals did not move, and the copies are copies
    assert G.v.item() == x and D.v.item() == y
    assert D_bar is not D and G_bar is not G
    assert D.v.requires_grad and G.v.requires_grad
    assert D.v.grad is None  # Ḡ's steps hold D fixed: nothing accumulates into its weights


def test_worst_case_steps_count_and_objective_arguments():
    """The objectives see (fixed player, moving copy, step r) with r = 0..steps−1; one SGD step each."""
    G, D = Scalar(1.0), Scalar(0.0)
    seen = []

    def d_loss(g, d, r):
        seen.append((g is G, d is not D, r))
        return -d.v  # gradient −1: each SGD step adds lr to y
    D_bar = worst_case_discriminator(G=G, D=D, steps=5, d_loss=d_loss, optimizer=_sgd(0.1))
    assert seen == [(True, True, r) for r in range(5)]
    assert math.isclose(D_bar.v.item(), 0.5, rel_tol=1e-12)
    assert all(p.grad is None for p in D_bar.parameters())  # the copy's gradients are cleared at the end


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(2.0, dtype=torch.float64))


@pytest.mark.parametrize("b_requires_grad", [True, False])
def test_worst_case_generator_restores_d_flags(b_requires_grad):
    G, D = Pair(), Pair()
    D.b.requires_grad_(b_requires_grad)
    inside = []

    def g_loss(g, d, r):
        inside.append([p.requires_grad for p in d.parameters()])
        return (g.a * d.a + g.b * d.b) ** 2

    # only Ḡ's `a` is in the optimizer: `b` must stay where it was
    G_bar = worst_case_generator(G=G, D=D, steps=3, g_loss=g_loss,
                                 optimizer=lambda m: torch.optim.SGD([m.a], lr=0.01))
    assert inside == [[False, False]] * 3  # D is frozen while Ḡ steps
    assert [D.a.requires_grad, D.b.requires_grad] == [True, b_requires_grad]
    assert D.a.grad is None and D.b.grad is None
    assert G_bar.a.item() != 1.0 and G_bar.b.item() == 2.0
    assert G.a.item() == 1.0 and G.b.item() == 2.0


def test_worst_case_generator_restores_d_flags_after_an_error():
    G, D = Pair(), Pair()
    D.b.requires_grad_(False)

    def g_loss(g, d, r):
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        worst_case_generator(G=G, D=D, steps=2, g_loss=g_loss, optimizer=_sgd(0.1))
    assert [D.a.requires_grad, D.b.requires_grad] == [True, False]


# ---------------------------------------------------------------------------------------------------------------------
# Full-scale dry runs: the recipe reports Table 2's parameter counts
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset,genotype,resolution,params,gflops", [
    ("", "alphagan_s", 32, 2_952_707, 1.32), ("", "alphagan_l", 32, 8.618e6, 2.78),
    ("stl10", "alphagan_l", 48, 9.279e6, None), ("stl10", "alphagan_s", 48, 3.613e6, None)])
def test_full_scale_dry_run(preset, genotype, resolution, params, gflops, tmp_path):
    out = tmp_path / "dry"
    cfg = load_config(scale="full", preset=preset, mode="retrain", genotype=genotype, dry_run=True, dataset="shapes",
                      dataset_size=64, out_dir=str(out))
    assert (cfg.g_channels, cfg.d_channels, cfg.dim_z, cfg.resolution) == (256, 128, 128, resolution)
    result = run(cfg, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "dry_run" and summary["mode"] == "retrain" and summary["resolution"] == resolution
    part = summary["retrain"]
    assert math.isclose(part["params_G"], params, rel_tol=1e-3)
    assert part["params_G"] == sum(p.numel() for p in result.retrain.method.G.parameters())
    assert part["genotype"] == json.loads(json.dumps(PUBLISHED[genotype].to_dict()))
    assert part["macs_g"] < part["flops_paper_convention_g"]
    if gflops is not None:
        assert math.isclose(part["flops_paper_convention_g"], gflops, rel_tol=1e-2)
    assert part["iterations_done"] == 0 and list_checkpoints(out / "retrain" / "checkpoints") == []


# ---------------------------------------------------------------------------------------------------------------------
# The search: α frozen or moving; a crash after one epoch resumes bitwise
# ---------------------------------------------------------------------------------------------------------------------
def _initial_alpha(cfg):
    torch.manual_seed(cfg.seed)  # what SearchMethod does before building the networks
    G, _ = build_networks(cfg, genotype=None)
    return G.alpha_normal.detach().clone(), G.alpha_up.detach().clone()


@pytest.mark.parametrize("freeze_alpha", [True, False])
def test_freeze_alpha(freeze_alpha, tmp_path):
    cfg = load_config(**TINY_SEARCH, epochs=1, freeze_alpha=freeze_alpha, out_dir=str(tmp_path / "run"))
    init_n, init_u = _initial_alpha(cfg)
    result = run(cfg, progress=False)
    G = result.search.method.G
    if freeze_alpha:
        assert torch.equal(G.alpha_normal.detach(), init_n) and torch.equal(G.alpha_up.detach(), init_u)
    else:
        assert not torch.equal(G.alpha_normal.detach(), init_n) and not torch.equal(G.alpha_up.detach(), init_u)
    records = result.search.search_log()
    assert [r["epoch"] for r in records] == [1] and records[0]["alpha_frozen"] is freeze_alpha
    assert all(math.isfinite(records[0][k]) for k in ("gap", "minmax", "maxmin", "loss_d", "loss_g"))
    assert math.isclose(records[0]["gap"], records[0]["minmax"] - records[0]["maxmin"], rel_tol=1e-5, abs_tol=1e-6)
    assert load_genotype(tmp_path / "run") == result.search.genotype


def _search_records(out):
    return [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r.get("kind") == "search"]


def test_search_resumes_bitwise_after_a_stop(tmp_path):
    epochs = 4
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    run(load_config(**TINY_SEARCH, epochs=epochs, out_dir=str(a_dir)), progress=False)
    # B stops after its first epoch (max_seconds is checked against the accumulated training time) …
    first = run(load_config(**TINY_SEARCH, epochs=epochs, max_seconds=1e-9, out_dir=str(b_dir)), progress=False)
    assert first.summary["search"]["status"] == "time_limit" and first.summary["search"]["epochs_done"] == 1
    assert [r["epoch"] for r in _search_records(b_dir)] == [1]
    # … and the same folder without the limit resumes it to the end
    second = run(load_config(**TINY_SEARCH, epochs=epochs, max_seconds=0.0, out_dir=str(b_dir)), progress=False)
    assert second.search.trainer.resumed_from is not None
    assert second.summary["search"]["status"] == "complete" and second.summary["search"]["epochs_done"] == epochs

    ck_a = load_checkpoint(list_checkpoints(a_dir / "checkpoints")[-1])
    ck_b = load_checkpoint(list_checkpoints(b_dir / "checkpoints")[-1])
    assert ck_a["nimg"] == ck_b["nimg"] == epochs * 1 * 4  # epochs · T · batch (T D steps)
    for key in ("G", "D", "G_ema", "optimizers", "method", "stream", "step"):
        assert_same_state(ck_a[key], ck_b[key], key)
    assert_same_state(ck_a["rng"]["loop"], ck_b["rng"]["loop"], "rng.loop")
    assert set(ck_a["optimizers"]) == {"G", "D", "arch"} and ck_a["method"]["epoch"] == epochs
    assert "alpha_normal" in ck_a["G"] and "alpha_up" in ck_a["G"]
    assert (a_dir / "genotype.json").read_text() == (b_dir / "genotype.json").read_text()
    rec_a, rec_b = _search_records(a_dir), _search_records(b_dir)
    assert [r["epoch"] for r in rec_a] == list(range(1, epochs + 1))
    assert rec_a == rec_b
    assert rec_a[-1]["gap"] == json.loads((a_dir / "summary.json").read_text())["search"]["gap"][-1]

import pytest

from gancore.config import ConfigError
from gancore.notebook import resolve_notebook_params
from gancore.recipes.progan.config import ProGANConfig

DECLARED = ["scale", "preset", "dataset", "data_dir", "out_dir", "seed", "device", "dry_run", "ablation",
            "run_claims", "overrides"]


def _ns(**kw):
    base = dict(scale="reduced", preset="", dataset=None, data_dir=None, out_dir=None, seed=0, device="auto",
                dry_run=False, ablation="", run_claims=True, overrides={})
    base.update(kw)
    base.update({"In": [], "Out": {}, "_i1": "x", "display": print, "torch": pytest})  # kernel/imports noise
    return base


def _resolve(ns):
    return resolve_notebook_params(ProGANConfig, paper="progan", namespace=ns, declared=DECLARED)


def test_defaults_resolve_to_reduced(monkeypatch):
    monkeypatch.delenv("GANCORE_SCALE", raising=False)
    monkeypatch.delenv("GANCORE_OUT_DIR", raising=False)
    cfg, opts = _resolve(_ns())
    assert cfg.scale == "reduced" and cfg.dataset == "shapes" and opts["run_claims"] is True


def test_mistyped_injected_parameter_is_refused():
    with pytest.raises(ConfigError, match=r"'scael' \(did you mean 'scale'\?\)"):
        _resolve(_ns(scael="smoke"))


def test_overrides_reach_any_field_and_clash_is_refused(monkeypatch):
    monkeypatch.delenv("GANCORE_SCALE", raising=False)
    cfg, _ = _resolve(_ns(overrides={"total_kimg": 3.0, "lr": 0.002}))
    assert cfg.total_kimg == 3.0 and cfg.lr == 0.002
    with pytest.raises(ConfigError, match="both as a parameter and in overrides"):
        _resolve(_ns(seed=1, overrides={"seed": 2}))
    with pytest.raises(ConfigError, match="unknown config key 'totl_kimg'"):
        _resolve(_ns(overrides={"totl_kimg": 3.0}))
    with pytest.raises(ConfigError, match="overrides must be a dict"):
        _resolve(_ns(overrides=[1]))


def test_environment_gives_tests_smoke_without_editing_the_notebook(monkeypatch, tmp_path):
    monkeypatch.setenv("GANCORE_SCALE", "smoke")
    monkeypatch.setenv("GANCORE_OUT_DIR", str(tmp_path / "o"))
    cfg, _ = _resolve(_ns())
    assert cfg.scale == "smoke" and cfg.out_dir == str(tmp_path / "o")


@pytest.mark.parametrize("kw,match", [(dict(scale="huge"), "choose one of smoke"),
                                      (dict(device="gpu"), "'auto', 'cpu', 'cuda'"),
                                      (dict(ablation="x"), "choose one of"),
                                      (dict(seed="0"), "expected int")])
def test_bad_parameter_values(kw, match, monkeypatch):
    monkeypatch.delenv("GANCORE_SCALE", raising=False)
    with pytest.raises(ConfigError, match=match):
        _resolve(_ns(**kw))


def test_explore_option_is_checked_before_anything_trains(monkeypatch):
    monkeypatch.delenv("GANCORE_SCALE", raising=False)
    declared = DECLARED + ["explore"]

    def resolve(value):
        return resolve_notebook_params(ProGANConfig, paper="progan", namespace=_ns(explore=value), declared=declared,
                                       notebook_only=("explore",))

    assert resolve("reference")[1]["explore"] == "reference"
    with pytest.raises(ConfigError, match=r"explore='refrence' is not valid \(did you mean 'reference'\?\)"):
        resolve("refrence")


@pytest.mark.parametrize("paper", ["progan", "biggan"])
def test_claims_seeds_below_one_is_refused(paper):
    from gancore.recipes import biggan, progan

    with pytest.raises(ConfigError, match="claims_seeds=0"):
        {"progan": progan, "biggan": biggan}[paper].load_config(scale="smoke", claims_seeds=0)

"""Every alphaGAN switch (loss, relaxation, Table 4 / Table 9 options) on a tiny search: it runs, its gap is finite,
and the switch does what it says. Plus the claims table's Table 9 path with a switch on."""
import json
import math

import pytest
import torch

from gancore.recipes import alphagan, alphagan_claims
from gancore.models.alphagan_space import Genotype

TINY = dict(g_channels=4, d_channels=8, dim_z=8, batch_size=4, epochs=2, weight_steps=1, worst_steps=1,
            arch_steps=1, dataset_size=32, retrain_iterations=2, retrain_g_batch=4, retrain_d_batch=4,
            final_num_images=32, num_threads=1)


def _search(tmp_path, **changes):
    cfg = alphagan.load_config(scale="smoke", mode="search", out_dir=str(tmp_path / "run"), **{**TINY, **changes})
    return alphagan.run(cfg, progress=False)


@pytest.mark.parametrize("changes", [
    {"loss": "ns"},
    {"relaxation": "gumbel", "gumbel_tau": 0.5},
    {"warmup": True},
    {"search_d": True},
    {"gbar_update": "alpha"},
    {"gbar_update": "both"},
    {"gbar_alpha_grad": True},
    {"n_critic": 2},
    {"n_critic": 1},
    {"relaxation": "gumbel", "gbar_gumbel": True},
], ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_every_switch_searches(tmp_path, changes):
    run = _search(tmp_path, **changes)
    records = run.search.search_log()
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        if not r["arch_part"]:  # a warm-up epoch runs its weight part only (the authors' search.py)
            assert changes.get("warmup") and "gap" not in r
            continue
        assert all(math.isfinite(r[k]) for k in ("gap", "minmax", "maxmin"))
        assert math.isclose(r["gap"], r["minmax"] - r["maxmin"], rel_tol=1e-5, abs_tol=1e-6)
    saved = json.loads((run.out_dir / "genotype.json").read_text())
    assert Genotype.from_dict(saved) == run.search.genotype
    if changes.get("warmup"):  # Table 9: α fixed for the first half (1 of 2 epochs)
        assert [r["alpha_frozen"] for r in records] == [True, False]
    if changes.get("search_d"):
        assert len(saved["meta"]["d_ops"]) == 8 and run.search.method.D.alpha_d.abs().sum() > 0


def test_warmup_keeps_alpha_fixed_in_the_first_half(tmp_path):
    run = _search(tmp_path, warmup=True)
    cfg = run.cfg
    initial = alphagan.SearchMethod(cfg=cfg, device=torch.device("cpu"), val=None).G.alpha_normal.detach()
    first, second = (torch.tensor(r["alpha_softmax"]["normal"]) for r in run.search.search_log())
    expected = torch.softmax(initial, dim=-1)
    torch.testing.assert_close(first, expected, atol=1e-5, rtol=0)  # epoch 1 of 2: α did not move
    assert not torch.allclose(second, expected, atol=1e-5, rtol=0)  # epoch 2: it learns


def test_gbar_alpha_grad_changes_the_alpha_gradient(tmp_path):
    """∂V/∂α through the Ḡ term (gbar_alpha_grad) is a different update from the default value copy.

    The non-saturating Adv is used because this tiny D rejects every fake by a wide margin (scores ≈ −20), where
    the hinge Adv(G, D̄) is flat and neither variant gives α any gradient at all."""
    a = _search(tmp_path / "a", loss="ns").search.method.G.alpha_normal.detach()
    b = _search(tmp_path / "b", loss="ns", gbar_alpha_grad=True).search.method.G.alpha_normal.detach()
    init = alphagan.SearchMethod(cfg=alphagan.load_config(scale="smoke", mode="search", out_dir=str(tmp_path / "c"),
                                                          loss="ns", **TINY), device=torch.device("cpu"),
                                 val=None).G.alpha_normal.detach()
    assert not torch.equal(a, init) and not torch.equal(a, b)


def test_table9_claim_runs_a_baseline_beside_a_gumbel_search(tmp_path):
    cfg = alphagan.load_config(scale="smoke", out_dir=str(tmp_path / "run"), relaxation="gumbel", claims_random=1,
                               claims_seeds=2, **{k: v for k, v in TINY.items() if k != "final_num_images"},
                               final_num_images=32)
    main = alphagan.run(cfg, progress=False)
    results = alphagan_claims.claim_experiments(cfg, main)
    assert results["baseline"]["search"]["genotype"] and len(results["baseline"]["retrains"]) == 2
    rows = {r["claim"]: r for r in alphagan_claims.claims_table(cfg, main.summary, results)}
    gumbel = next(r for c, r in rows.items() if "Gumbel" in c)
    assert not gumbel["verdict"].startswith("not tested") and "baseline search" in gumbel["this run"]
    warm = next(r for c, r in rows.items() if "Warm-up" in c)
    assert warm["verdict"].startswith("not tested")
    assert (tmp_path / "run" / "claims" / "baseline-search" / "genotype.json").is_file()

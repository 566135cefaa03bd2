"""alphaGAN at full scale: the settings the paper leaves open follow the authors' code (issue 26, items 1–9).

Each test pins one of them on tiny nets against an independent count or formula: the search's n_critic schedule
(cfg_search.py / functions.py), the worst-case copies' halved learning rate and their missing Gumbel noise
(functions.py), the retrain's Xavier / N(1, 0.02) init (train_geno_gan.py), the warm-up that skips the architecture
part (search.py), the parameter-only weight average, the refused Ḡ switch pair, periodic evaluation with the best
checkpoint, FID's reference set and the README's Inception settings."""
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from gancore.errors import ConfigError
from gancore.models.alphagan import AlphaGANGenerator
from gancore.models.alphagan_space import load_genotype
from gancore.recipes.alphagan import build_images, load_config, run, split_halves
from gancore.recipes.alphagan import retrain as retrain_mod
from gancore.recipes.alphagan import search as search_mod
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.recipes.alphagan.retrain import RetrainMethod
from gancore.recipes.alphagan.search import SearchMethod

TINY = {"scale": "smoke", "dataset_size": 64, "g_channels": 4, "d_channels": 8, "dim_z": 8, "batch_size": 4,
        "weight_steps": 1, "worst_steps": 1, "arch_steps": 1, "sample_every_epochs": 1000, "num_threads": 1}
CPU = torch.device("cpu")


def _method(**changes) -> SearchMethod:
    cfg = load_config(**{**TINY, "mode": "search", "out_dir": "unused", **changes})
    images = build_images(cfg)
    _, val_idx = split_halves(len(images), val_fraction=cfg.val_fraction, seed=cfg.seed)
    return SearchMethod(cfg=cfg, device=CPU, val=images.subset(val_idx))


def _reals(cfg):
    return lambda n: (torch.rand(n, 3, cfg.resolution, cfg.resolution) * 2 - 1, None)


def _count_steps(opt) -> list[int]:
    calls = [0]
    step = opt.step

    def counted(*a, **k):
        calls[0] += 1
        return step(*a, **k)

    opt.step = counted
    return calls


# ---- 1. n_critic = 5 in the search (cfg_search.py), G step on every n_critic-th D step (train_gan_parameter) ------
def test_search_n_critic_defaults_to_the_authors_five():
    assert AlphaGANConfig().n_critic == 5
    assert load_config(scale="full", data_dir="x").n_critic == 5


@pytest.mark.parametrize("T,n_critic,epochs", [(3, 5, 4), (1, 5, 7), (20, 5, 3), (4, 1, 2), (2, 3, 5)])
def test_weight_part_counts_d_and_g_steps(T, n_critic, epochs):
    m = _method(weight_steps=T, n_critic=n_critic, epochs=epochs)
    d_calls, g_calls = _count_steps(m.opt_d), _count_steps(m.opt_g)
    m._worst_case = lambda rng: (None, None)  # only the weight part is counted here
    m._arch_part = lambda D_bar, G_bar, rng: (torch.zeros(()),) * 3
    rng, per_epoch = torch.Generator().manual_seed(0), []
    for e in range(epochs):
        before = g_calls[0]
        _, used = m.train_step(0, _reals(m.cfg), rng)
        per_epoch.append(g_calls[0] - before)
        assert used == T * m.cfg.batch_size  # D sees T batches per epoch, whatever n_critic is
        assert m.last["g_steps"] == per_epoch[-1] == m.cfg.g_steps_in_epoch(e)
    # independent count: D steps 0 .. epochs·T − 1 over the whole search, a G step where k % n_critic == 0
    expected = [len([k for k in range(e * T, (e + 1) * T) if k % n_critic == 0]) for e in range(epochs)]
    assert per_epoch == expected
    assert d_calls[0] == epochs * T and g_calls[0] == math.ceil(epochs * T / n_critic)


# ---- 2. the worst-case copies' learning rate halves after epoch 30 (functions.py train_gan_alpha) -------------------
@pytest.mark.parametrize("epoch,factor", [(0, 1.0), (29, 1.0), (30, 0.5), (99, 0.5)])
def test_worst_case_lr_halves_after_epoch_30(monkeypatch, epoch, factor):
    assert AlphaGANConfig().worst_lr_decay_epoch == 30 and AlphaGANConfig().worst_lr_decay == 0.5
    m = _method(gbar_update="both")
    m.epoch = epoch  # 0-based; the authors' 1-based "epoch > 30" is index ≥ 30
    seen = {}

    def capture(name):
        def fake(*, G, D, steps, optimizer, **_):
            seen[name] = optimizer(D if name == "D" else G).param_groups
            return D if name == "D" else G
        return fake

    monkeypatch.setattr(search_mod, "worst_case_discriminator", capture("D"))
    monkeypatch.setattr(search_mod, "worst_case_generator", capture("G"))
    m._worst_case(torch.Generator().manual_seed(0))
    assert seen["D"][0]["lr"] == pytest.approx(2e-4 * factor)
    assert seen["G"][0]["lr"] == pytest.approx(2e-4 * factor)  # Ḡ's weights
    assert seen["G"][1]["lr"] == pytest.approx(m.cfg.arch_lr)  # Ḡ's α keeps α's rate (the authors' optimizer)
    assert m.cfg.worst_lr_scale(epoch) == factor
    assert load_config(**TINY, worst_lr_decay_epoch=0).worst_lr_scale(99) == 1.0  # 0: never


# ---- 3. Gumbel τ = 0.5 (--t) and worst-case copies without Gumbel noise (set_gumbel(False)) ------------------------
@pytest.mark.parametrize("gbar_gumbel,gbar_alpha_grad", [(False, False), (True, False), (False, True)])
def test_gumbel_noise_only_on_the_live_generator(monkeypatch, gbar_gumbel, gbar_alpha_grad):
    assert AlphaGANConfig().gumbel_tau == 0.5 and AlphaGANConfig().gbar_gumbel is False
    m = _method(relaxation="gumbel", gbar_gumbel=gbar_gumbel, gbar_alpha_grad=gbar_alpha_grad, worst_steps=2,
                arch_steps=2)
    assert m.G.tau == 0.5
    calls = []
    original = AlphaGANGenerator.edge_weights

    def spy(self, *, gumbel_rng=None):
        calls.append((self is m.G, gumbel_rng is not None))
        return original(self, gumbel_rng=gumbel_rng)

    monkeypatch.setattr(AlphaGANGenerator, "edge_weights", spy)
    rng = torch.Generator().manual_seed(0)
    D_bar, G_bar = m._worst_case(rng)
    in_worst = list(calls)
    m._arch_part(D_bar, G_bar, rng)
    copies = [noisy for live, noisy in calls if not live]
    if not gbar_alpha_grad:
        assert copies and all(noisy is gbar_gumbel for noisy in copies)  # Ḡ: noise only when asked for
    live_worst = [noisy for live, noisy in in_worst if live]
    assert live_worst and all(live_worst)  # D̄ learns against the live G's noisy samples, as the authors'
    if gbar_alpha_grad:  # Ḡ on the live α in V: the weights are drawn from G, without noise by default
        assert [noisy for live, noisy in calls[len(in_worst):] if live].count(gbar_gumbel) >= m.cfg.arch_steps


# ---- 4. the retrain's init: Xavier-uniform convs, BN weights N(1, 0.02) (train_geno_gan.py weights_init) ----------
def _conv_weight(m: nn.Conv2d) -> torch.Tensor:
    return m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight


@pytest.mark.parametrize("init", ["xavier", "pytorch"])
def test_retrain_init(init):
    cfg = load_config(**{**TINY, "g_channels": 32, "d_channels": 32}, mode="retrain", genotype="alphagan_s",
                      retrain_init=init, out_dir="unused")
    assert AlphaGANConfig().retrain_init == "xavier"
    m = RetrainMethod(cfg=cfg, genotype=load_genotype("alphagan_s"), device=CPU)
    convs = [mod for net in (m.G, m.D) for mod in net.modules() if isinstance(mod, nn.Conv2d)]
    assert len(convs) > 10
    for mod in convs:
        w = _conv_weight(mod).detach()
        fan_in, fan_out = w.shape[1] * w[0, 0].numel(), w.shape[0] * w[0, 0].numel()
        xavier = math.sqrt(6.0 / (fan_in + fan_out))
        if init == "xavier":
            assert w.abs().max() <= xavier + 1e-7
            if w.numel() >= 1000:  # U(−b, b) has variance b²/3
                assert w.var().item() == pytest.approx(xavier ** 2 / 3, rel=0.15)
        elif w.numel() >= 1000:  # PyTorch's kaiming_uniform(a=√5): bound 1/√fan_in
            assert w.var().item() == pytest.approx(1.0 / fan_in / 3, rel=0.15)
    bns = [mod for mod in m.G.modules() if isinstance(mod, nn.BatchNorm2d) and mod.affine]
    weights = torch.cat([b.weight.detach() for b in bns])
    biases = torch.cat([b.bias.detach() for b in bns])
    assert torch.equal(biases, torch.zeros_like(biases))
    if init == "xavier":
        assert not torch.equal(weights, torch.ones_like(weights))
        assert weights.mean().item() == pytest.approx(1.0, abs=0.01)
        assert weights.std().item() == pytest.approx(0.02, rel=0.2)
    else:
        assert torch.equal(weights, torch.ones_like(weights))
    # The authors' class-name test ("Conv2d" in the name) leaves transposed convs at PyTorch's init in both modes.
    deconvs = [mod for mod in m.G.modules() if isinstance(mod, nn.ConvTranspose2d)]
    for mod in deconvs:
        fan_in = mod.weight.shape[1] * mod.weight[0, 0].numel()
        assert mod.weight.abs().max() <= 1.0 / math.sqrt(fan_in) + 1e-7


# ---- 5. warm-up epochs cost only their weight part (search.py: train_gan_alpha only after fix_alphas_epochs) -------
@pytest.mark.parametrize("changes,arch_epochs", [
    ({"warmup": True}, [3, 4]),
    ({"warmup": True, "warmup_measure_gap": True}, [1, 2, 3, 4]),
    ({"freeze_alpha": True}, [1, 2, 3, 4]),  # the α-frozen control still measures V (gap_falls claim)
    ({}, [1, 2, 3, 4]),
], ids=["warmup", "warmup+measure", "frozen-control", "default"])
def test_warmup_epochs_skip_the_architecture_part(monkeypatch, tmp_path, changes, arch_epochs):
    calls = {"worst": [], "arch": []}
    worst, arch = SearchMethod._worst_case, SearchMethod._arch_part

    def spy_worst(self, rng):
        calls["worst"].append(self.epoch + 1)
        return worst(self, rng)

    def spy_arch(self, D_bar, G_bar, rng):
        calls["arch"].append(self.epoch + 1)
        return arch(self, D_bar, G_bar, rng)

    monkeypatch.setattr(SearchMethod, "_worst_case", spy_worst)
    monkeypatch.setattr(SearchMethod, "_arch_part", spy_arch)
    result = run(load_config(**TINY, mode="search", epochs=4, out_dir=str(tmp_path / "run"), **changes),
                 progress=False)
    assert calls["worst"] == calls["arch"] == arch_epochs
    records = result.search.search_log()
    assert [r["epoch"] for r in records if "gap" in r] == arch_epochs
    assert [r["arch_part"] for r in records] == [e in arch_epochs for e in range(1, 5)]
    assert result.summary["search"]["gap_epochs"] == arch_epochs
    assert len(result.summary["search"]["gap"]) == len(arch_epochs)


# ---- 6. the weight average averages parameters only; BN buffers are G's own (copy_params / load_params) ----------
@pytest.mark.parametrize("ema_buffers", ["live", "average"])
def test_weight_average_keeps_live_batchnorm_buffers(tmp_path, ema_buffers):
    cfg = load_config(**TINY, mode="retrain", genotype="alphagan_s", retrain_iterations=6, retrain_g_batch=4,
                      retrain_d_batch=4, final_num_images=16, ema_buffers=ema_buffers, out_dir=str(tmp_path / "r"))
    assert AlphaGANConfig().ema_buffers == "live"
    r = run(cfg, progress=False).retrain
    G, ema = r.method.G, r.G_ema
    live = dict(G.named_buffers())
    avg = dict(ema.named_buffers())
    means = [k for k in live if k.endswith("running_mean")]
    assert means
    same = [torch.equal(live[k], avg[k]) for k in means]
    if ema_buffers == "live":
        assert all(same)
    else:
        assert not all(same)
    # the parameters are averaged either way (decay 0.999: far from the live weights after 6 steps)
    diffs = [not torch.equal(p, q) for p, q in zip(G.parameters(), ema.parameters())]
    assert any(diffs)


# ---- 7. gbar_update alpha|both with gbar_alpha_grad is refused -------------------------------------------------
@pytest.mark.parametrize("gbar_update", ["alpha", "both"])
def test_gbar_alpha_updates_with_live_alpha_are_refused(gbar_update):
    with pytest.raises(ConfigError, match="gbar_alpha_grad"):
        load_config(**TINY, gbar_update=gbar_update, gbar_alpha_grad=True)
    load_config(**TINY, gbar_update=gbar_update, gbar_alpha_grad=False)
    load_config(**TINY, gbar_update="weights", gbar_alpha_grad=True)


# ---- 8. periodic evaluation keeps the best checkpoint; FID's reference is the whole training set -----------------
@pytest.mark.parametrize("select", ["best", "final"])
def test_retrain_periodic_evaluation_and_best_checkpoint(monkeypatch, tmp_path, select):
    fids = iter([99.0, 30.0, 10.0, 20.0])  # the untrained G, then three evaluations: the middle one is best
    reals_seen = []

    def fake_score(cfg, fake, real, *, resolution, device, metrics=("fid", "is", "kid")):
        reals_seen.append(len(real))
        return {"fid": next(fids), "is_mean": 1.0}

    monkeypatch.setattr(retrain_mod.common, "score", fake_score)
    cfg = load_config(**{**TINY, "dataset_size": 32}, mode="retrain", genotype="alphagan_s", retrain_iterations=24,
                      retrain_g_batch=4, retrain_d_batch=4, final_num_images=16, retrain_eval_every_epochs=1,
                      retrain_select=select, out_dir=str(tmp_path / "r"))
    result = run(cfg, progress=False)
    s = result.summary["retrain"]
    assert [e["nimg"] for e in s["evals"]] == [32, 64, 96]  # every pass over the 32 images, the last at the end
    assert reals_seen == [32] * 4  # reference statistics of all 32 training images, not final_num_images
    assert s["final_last"]["fid"] == 20.0
    assert s["final"]["fid"] == (10.0 if select == "best" else 20.0)
    best = torch.load(tmp_path / "r" / "retrain" / "best_G_ema.pt", weights_only=True)
    assert best["nimg"] == 64 and s["selection"]["rule"] == select
    metric_records = [r for r in result.retrain.log() if r.get("kind") == "metric"]
    assert [r["fid"] for r in metric_records] == [30.0, 10.0, 20.0]


def test_authors_evaluation_cadence_is_the_default():
    cfg = AlphaGANConfig()
    assert cfg.retrain_eval_every_epochs == 20 and cfg.retrain_select == "best" and cfg.fid_real_images == 0


# ---- 9. the README's ag-l and ag-stl commands score with Inception ---------------------------------------------
@pytest.mark.parametrize("name", ["ag-l", "ag-stl"])
def test_readme_alphagan_full_commands_set_inception(name):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    command = re.search(rf"papermill notebooks/alphagan\.ipynb runs/{name}\.ipynb(?:[^\n]*\\\n)*[^\n]*", text)
    assert command, name
    assert "extractor: inception" in command.group(0) and "inception_weights:" in command.group(0)
    assert re.search(r"-p run_claims (True|False)", command.group(0)), "a full-scale command must choose run_claims"


@pytest.mark.parametrize("scale, preset, given, dry_run, expected", [
    ("full", "", None, False, "refused"), ("full", "l", None, False, "refused"), ("full", "", True, False, True),
    ("full", "", False, False, False), ("full", "", None, True, False), ("reduced", "", None, False, True),
    ("smoke", "", None, False, True), ("reduced", "", False, False, False)])
def test_a_full_run_whose_claims_more_than_double_it_asks_for_run_claims(scale, preset, given, dry_run, expected):
    from gancore.config import ConfigError
    from gancore.recipes import alphagan
    from gancore.recipes.alphagan import claims

    cfg = alphagan.load_config(scale=scale, preset=preset, dry_run=True)
    cfg.dry_run = dry_run
    cost = claims.planned_claims_cost(cfg)
    if scale == "full":  # 3 α-frozen searches, 2 random + published + searched genotypes × 3 seeds less the main one
        assert (cost["searches"], cost["retrains"]) == (3, 11) and cost["ratio"] > 2
    if expected == "refused":
        with pytest.raises(ConfigError, match="run_claims True .* run_claims False"):
            claims.decide_run_claims(cfg, given)
    else:
        assert claims.decide_run_claims(cfg, given) is expected


def test_retrain_with_periodic_evaluation_resumes_exactly(tmp_path):
    """A retrain stopped after its first iteration and resumed ends with the same G_ema (live BN buffers included),
    the same evaluations and the same best checkpoint as one that ran through."""
    from state_compare import assert_same_state

    from gancore.checkpoint import list_checkpoints, load_checkpoint

    common = dict(TINY, dataset_size=32, mode="retrain", genotype="alphagan_s", retrain_iterations=16,
                  retrain_g_batch=4, retrain_d_batch=4, final_num_images=16, retrain_eval_every_epochs=1)
    a = run(load_config(**common, out_dir=str(tmp_path / "a")), progress=False)
    first = run(load_config(**common, max_seconds=1e-9, out_dir=str(tmp_path / "b")), progress=False)
    assert first.summary["retrain"]["status"] == "time_limit"
    b = run(load_config(**common, max_seconds=0.0, out_dir=str(tmp_path / "b")), progress=False)
    assert b.retrain.trainer.resumed_from is not None
    ck_a, ck_b = (load_checkpoint(list_checkpoints(tmp_path / d / "retrain" / "checkpoints")[-1]) for d in "ab")
    for key in ("G", "D", "G_ema", "optimizers", "method"):
        assert_same_state(ck_a[key], ck_b[key], key)
    sa, sb = a.summary["retrain"], b.summary["retrain"]
    assert [e["nimg"] for e in sa["evals"]] == [e["nimg"] for e in sb["evals"]] == [32, 64]
    assert sa["final"] == sb["final"] and sa["selection"] == sb["selection"]


# ---- Table 2's best of several seeded searches (search_seeds), chosen by the retrain's FID -------------------------
@pytest.mark.parametrize("fids,chosen", [([100.0, 50.0, 100.0, 20.0], 1), ([100.0, 15.0, 100.0, 20.0], 0)])
def test_search_seeds_keep_the_genotype_with_the_best_retrain(monkeypatch, tmp_path, fids, chosen):
    scores = iter(fids)  # per seed: the untrained G, then the retrained one
    monkeypatch.setattr(retrain_mod.common, "score", lambda *a, **k: {"fid": next(scores), "is_mean": 1.0})
    cfg = load_config(**TINY, epochs=1, retrain_iterations=2, retrain_g_batch=4, retrain_d_batch=4,
                      final_num_images=16, search_seeds=2, retrain_eval_every_epochs=0, out_dir=str(tmp_path / "r"))
    result = run(cfg, progress=False)
    s = result.summary
    assert [r["seed"] for r in s["search_seeds"]] == [cfg.seed, cfg.seed + 1]
    assert [r["fid"] for r in s["search_seeds"]] == [fids[1], fids[3]]
    assert s["chosen_seed"] == cfg.seed + chosen and result.retrain.cfg.seed == cfg.seed + chosen
    assert s["final"]["fid"] == min(fids[1], fids[3])
    folder = tmp_path / "r" if chosen == 0 else tmp_path / "r" / "seeds" / f"seed{cfg.seed + 1}"
    assert load_genotype(tmp_path / "r" / "genotype_chosen.json") == load_genotype(folder / "genotype.json")
    assert result.search.genotype == load_genotype(folder / "genotype.json")


def test_search_seeds_need_a_retrain():
    with pytest.raises(ConfigError, match="search_seeds"):
        load_config(**TINY, mode="search", search_seeds=3)


# ---- the claims' side runs: checkpoint cadence and their cost, printed before they start --------------------------
def test_side_retrains_checkpoint_on_the_main_cadence():
    from gancore.recipes.alphagan.claims import _side

    cfg = load_config(**TINY, out_dir="main", search_seeds=3)
    side = _side(cfg, "retrain-x", mode="retrain", genotype="alphagan_s")
    assert side.ckpt_every_kimg == cfg.ckpt_every_kimg and side.out_dir.endswith("claims/retrain-x")
    assert _side(cfg, "frozen", mode="search", genotype="").search_seeds == 1  # a side run is one search


def test_claims_cost_at_full_scale():
    from gancore.recipes.alphagan.claims import claims_cost

    cfg = load_config(scale="full", data_dir="x")
    assert (cfg.claims_seeds, cfg.claims_random) == (3, 2)
    cost = claims_cost(cfg, {"search": {"train_seconds": 100.0}, "retrain": {"train_seconds": 400.0}})
    # 3 frozen searches; (searched + 2 random + alphaGAN(s)) × 3 seeds, less the main retrain reused: 11 retrains
    assert (cost["searches"], cost["retrains"]) == (3, 11)
    assert cost["seconds"] == 3 * 100 + 11 * 400 and cost["ratio"] == pytest.approx(4700 / 500, abs=0.01)


def test_ema_buffers_is_an_engine_setting_checked_before_training():
    """The live-buffer average is the loop's (RunConfig.ema_buffers), so every paper can ask for it; a wrong word
    is refused when the config is built."""
    from gancore.config import ConfigError, RunConfig
    from gancore.recipes import progan

    assert RunConfig.__dataclass_fields__["ema_buffers"].default == "average"
    assert progan.load_config(scale="smoke", ema_buffers="live").ema_buffers == "live"
    with pytest.raises(ConfigError, match="ema_buffers"):
        progan.load_config(scale="smoke", ema_buffers="copy")

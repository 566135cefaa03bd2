"""Issue 25's speed switches, each on the CPU: the numbers agree with the plain path, the switch reaches the code
it names, and the defaults leave results as they were. CUDA-only parts skip cleanly without a GPU."""
from __future__ import annotations

import copy

import pytest
import torch

from gancore.config import ConfigError
from gancore.nn import SelfAttention, gradfix
from gancore.recipes import biggan, dggan, progan
from gancore.recipes.biggan.config import BigGANConfig
from gancore.recipes.dggan.candidate import CandidateMethod
from gancore.recipes.dggan.config import candidate_config

CPU = torch.device("cpu")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
BIGGAN = dict(resolution=32, ch=4, dim_z=8, shared_dim=6, attention_res=[16], batch_size=8, accumulate=1,
              num_classes=3, sv_every_kimg=0.0)


@pytest.mark.parametrize("shape", [(2, 16, 8, 8), (3, 32, 4, 6)])
def test_fused_self_attention_equals_the_explicit_softmax(shape):
    torch.manual_seed(0)
    attn = SelfAttention(channels=shape[1])
    with torch.no_grad():
        attn.gamma.fill_(0.7)  # 0 at init would hide the attention branch
    fused = copy.deepcopy(attn)  # a copy: each forward advances spectral norm's power iteration
    fused.fused = True
    outs = []
    for module in (attn, fused):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(1), requires_grad=True)
        y = module(x)
        y.square().sum().backward()
        outs.append((y.detach(), x.grad, *[p.grad for p in module.parameters() if p.grad is not None]))
    assert len(outs[0]) == len(outs[1]) > 3
    for a, b in zip(*outs):  # fp32: the fused kernel sums in another order (differences ~1e-5 measured)
        torch.testing.assert_close(b, a, rtol=1e-4, atol=5e-5)


def test_biggan_switches_reach_the_modules_and_compile_wraps_only_the_forward_passes(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda m, **kw: compiled.append(m) or m)
    m = biggan.BigGANMethod(cfg=BigGANConfig(**BIGGAN, fused_attention=True, compile=True), num_classes=3,
                            device=CPU)
    attention = [a for a in m.G.modules() if isinstance(a, SelfAttention)]
    attention += [a for a in m.D.modules() if isinstance(a, SelfAttention)]
    assert attention and all(a.fused for a in attention)
    assert compiled == [m.G, m.D]
    compiled.clear()
    biggan.BigGANMethod(cfg=BigGANConfig(**BIGGAN, compile=True, loss="ns", r1_gamma=1.0), num_classes=3,
                        device=CPU)
    assert len(compiled) == 1  # R1 differentiates D twice, which torch.compile cannot: D stays eager


def test_biggan_steps_with_fused_attention_match_the_plain_steps():
    """Two iterations' losses agree (parameters after Adam are not compared: Adam divides a gradient by its own
    size, so round-off in a near-zero gradient moves a weight by up to the learning rate)."""
    out = []
    for fused in (False, True):
        m = biggan.BigGANMethod(cfg=BigGANConfig(**BIGGAN, fused_attention=fused), num_classes=3, device=CPU)
        g = torch.Generator().manual_seed(1)
        x, y = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1, torch.randint(3, (8,), generator=g)
        rng = torch.Generator().manual_seed(0)
        out.append([m.train_step(0, lambda n, resolution=None: (x[:n], y[:n]), rng)[0] for _ in range(2)])
    for plain, fused in zip(*out):
        assert plain.keys() == fused.keys()
        for k in plain:
            torch.testing.assert_close(fused[k], plain[k], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("setting, on", [("on", True), ("off", False), ("auto", False)])
def test_progan_conv_gradfix_setting(tiny_progan_overrides, setting, on):
    m = progan.ProGANMethod(cfg=progan.load_config(scale="smoke", **tiny_progan_overrides, conv_gradfix=setting),
                            device=CPU)
    flags = [mod.gradfix for mod in m.D.modules() if hasattr(mod, "gradfix")]
    assert flags and all(f is on for f in flags)
    assert not any(getattr(mod, "gradfix", False) for mod in m.G.modules())  # G has no penalty to speed up


def test_a_progan_step_with_gradfix_matches_the_plain_step(tiny_progan_overrides):
    out = []
    for setting in ("off", "on"):
        m = progan.ProGANMethod(cfg=progan.load_config(scale="smoke", **tiny_progan_overrides, conv_gradfix=setting),
                                device=CPU)
        res = m.schedule.phases[0].resolution
        real = torch.rand(8, 3, res, res, generator=torch.Generator().manual_seed(2)) * 2 - 1
        stats, _ = m.train_step(0, lambda n, resolution=None: (real[:n], None), torch.Generator().manual_seed(0))
        out.append((stats, [p.detach().clone() for p in m.D.parameters()]))
    (s0, p0), (s1, p1) = out
    for k in ("loss_d", "loss_g", "gp"):
        torch.testing.assert_close(s1[k], s0[k], rtol=1e-4, atol=1e-6)
    for a, b in zip(p0, p1):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("word, value", [(True, "on"), (False, "off"), ("auto", "auto")])
def test_yaml_booleans_read_back_as_the_words_of_a_choice(tiny_progan_overrides, word, value):
    # `--set conv_gradfix=on` and papermill's -y read "on"/"off" (and "yes"/"no") as booleans
    assert progan.load_config(scale="smoke", conv_gradfix=word).conv_gradfix == value
    assert progan.load_config(scale="smoke", data_in_memory=word if word != "auto" else "auto").data_in_memory in (
        "yes", "no", "auto")
    with pytest.raises(ConfigError, match="conv_gradfix"):
        progan.load_config(scale="smoke", conv_gradfix="fast")


@pytest.mark.parametrize("keep", [False, True])
def test_keep_batch_trains_every_resolution_at_batch_size(keep):
    cfg = progan.load_config(scale="full", keep_batch=keep, dry_run=True)
    batches = {p.resolution: p.batch_size for p in progan.build_schedule(cfg).phases}
    assert batches[4] == cfg.batch_size == 16
    if keep:
        assert set(batches.values()) == {16}
    else:  # App. A.1: 16 up to 128², then 14, 6, 3 for memory
        assert (batches[256], batches[512], batches[1024]) == (14, 6, 3)


@pytest.mark.parametrize("precision, channels_last, fix", [("fp32", False, "off"), ("bf16", True, "on")])
def test_dggan_candidate_speed_switches_train_a_step(tmp_path, precision, channels_last, fix):
    cfg = dggan.load_config(scale="smoke", out_dir=str(tmp_path), precision=precision, channels_last=channels_last,
                            conv_gradfix=fix)
    spec = dggan.initial_spec(cfg)
    ccfg = candidate_config(cfg, cid="c", spec=spec.to_dict(), out_dir=str(tmp_path / "c"))
    assert (ccfg.precision, ccfg.channels_last, ccfg.conv_gradfix) == (precision, channels_last, fix)
    m = CandidateMethod(cfg=ccfg, device=CPU)
    assert all(mod.gradfix is (fix == "on") for mod in m.D.modules() if hasattr(mod, "gradfix"))
    res = spec.resolution
    real = torch.rand(ccfg.batch_size, 3, res, res, generator=torch.Generator().manual_seed(0)) * 2 - 1
    stats, used = m.train_step(0, lambda n, resolution=None: (real[:n], None), torch.Generator().manual_seed(1))
    assert used > 0 and all(torch.isfinite(v) for v in stats.values())


def test_gradfix_wanted_follows_the_device():
    assert gradfix.wanted("auto", torch.device("cuda")) and not gradfix.wanted("auto", CPU)
    assert gradfix.wanted("on", CPU) and not gradfix.wanted("off", torch.device("cuda"))


@cuda
def test_cuda_gradfix_penalty_matches_autograd(tiny_progan_overrides):
    from gancore import losses

    dev = torch.device("cuda")
    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides, device="cuda")
    _, D = progan.build_networks(cfg)
    D = D.to(dev).double()
    real, fake = torch.randn(2, 4, 3, 8, 8, device=dev, dtype=torch.float64)
    grads = []
    for on in (False, True):
        gradfix.enable(D, on=on)
        D.zero_grad()
        losses.gradient_penalty(lambda x: D(x, resolution=8), real, fake,
                                generator=torch.Generator().manual_seed(0)).backward()
        grads.append([p.grad.clone() for p in D.parameters() if p.grad is not None])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)


@cuda
def test_cuda_compiled_biggan_step_matches_eager():
    out = []
    for compile_ in (False, True):
        cfg = BigGANConfig(**BIGGAN, compile=compile_, device="cuda")
        m = biggan.BigGANMethod(cfg=cfg, num_classes=3, device=torch.device("cuda"))
        g = torch.Generator().manual_seed(1)
        x, y = (torch.rand(8, 3, 32, 32, generator=g) * 2 - 1).cuda(), torch.randint(3, (8,), generator=g).cuda()
        stats, _ = m.train_step(0, lambda n, resolution=None: (x[:n], y[:n]), torch.Generator().manual_seed(0))
        out.append(stats)
    for k in out[0]:
        torch.testing.assert_close(out[1][k], out[0][k], rtol=1e-3, atol=1e-4)


def test_keep_batch_is_counted_by_the_memory_estimate_before_training():
    """Preflight sees keep_batch's batch at the top resolution, so a run that cannot fit is refused up front."""
    recipe = progan.RECIPE
    paper = recipe.memory_estimate(progan.load_config(scale="full", dataset="shapes"))
    kept = recipe.memory_estimate(progan.load_config(scale="full", dataset="shapes", keep_batch=True))
    assert not any("batch 16 at 1024²" in k for k in paper) and any("batch 16 at 1024²" in k for k in kept)
    assert kept.total() > paper.total()


def test_gradfix_refuses_string_padding():
    with pytest.raises(ValueError, match="numeric padding"):
        gradfix.conv2d(torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3), padding="same")


@pytest.mark.parametrize("channels", [8, 16, 28, 64, 192])
def test_fused_self_attention_reaches_a_fused_kernel_and_matches(channels):
    """The fused path gives torch's flash kernel what it needs (4-D, one head width); restricted to that kernel it
    must run, and it equals SAGAN's explicit softmax(θᵀφ) (issue 25: 3-D or mixed widths fell back to a bmm)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from gancore.nn import SelfAttention

    torch.manual_seed(0)
    att = SelfAttention(channels=channels).eval()  # eval: no power-iteration step between the two calls
    with torch.no_grad():
        att.gamma.fill_(0.7)  # γ starts at 0, which would hide the attention branch
    x = torch.randn(2, channels, 8, 6)
    plain = att(x)
    att.fused = True
    # 28: widths 3 and 14 do not divide; 8: heads one wide, whose stride torch does not count as unit: both fall back
    fusable = (channels // 2) % (channels // 8) == 0 and channels // 8 > 1
    backends = [SDPBackend.FLASH_ATTENTION] if fusable else [SDPBackend.MATH]
    with sdpa_kernel(backends):
        fused = att(x)
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-5)

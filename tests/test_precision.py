"""gancore.precision (bf16 autocast, NHWC) and its use by both recipes."""
import pytest
import torch

from gancore import losses
from gancore.precision import autocast, resolve_precision, to_channels_last
from gancore.recipes import progan


def test_precision_auto_resolves_to_a_concrete_choice(monkeypatch):
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    assert resolve_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert resolve_precision("auto", torch.device("cpu")) == "bf16"


def test_unknown_precision_lists_the_choices():
    with pytest.raises(ValueError, match=r"\['fp32', 'bf16', 'auto'\]"):
        resolve_precision("fp16", torch.device("cpu"))


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_autocast_runs_convolutions_in_the_chosen_dtype(precision, dtype):
    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast(torch.device("cpu"), precision):
        assert conv(torch.randn(2, 3, 8, 8)).dtype == dtype
    assert conv.weight.dtype == torch.float32  # weights stay fp32 (mixed precision)


def test_to_channels_last_keeps_the_function():
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8)
    before = conv(x)
    to_channels_last(conv)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(conv(x), before)


def test_gradient_penalty_under_bf16_matches_fp32():
    """The penalty's double backward runs under autocast; its norm is taken in fp32 (bf16 accuracy overall)."""
    torch.manual_seed(0)
    critic_net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                                     torch.nn.LazyLinear(1))
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    critic = lambda x: critic_net(x).float()  # noqa: E731
    ref = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    with autocast(torch.device("cpu"), "bf16"):
        gp = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert gp.dtype == torch.float32 and torch.isfinite(gp)
    assert float(gp.detach()) == pytest.approx(float(ref.detach()), rel=0.05, abs=0.02)
    gp.backward()  # the double backward exists under bf16
    weights = [critic_net[0].weight, critic_net[3].weight]  # the last bias does not change ∇ₓD, so has no grad
    assert all(w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0 for w in weights)


@pytest.mark.parametrize("channels_last", [False, True])
def test_progan_bf16_step_tracks_fp32(tiny_progan_overrides, channels_last):
    """ProGAN's WGAN-GP step in bf16 (±NHWC) gives the fp32 step's losses to bf16 accuracy."""
    out = {}
    for precision in ("fp32", "bf16"):
        cfg = progan.load_config(scale="smoke", **tiny_progan_overrides, precision=precision,
                                 channels_last=channels_last and precision == "bf16")
        m = progan.ProGANMethod(cfg=cfg, device=torch.device("cpu"))
        phase = m.schedule.phases[0]
        real = torch.rand(8, 3, phase.resolution, phase.resolution, generator=torch.Generator().manual_seed(2)) * 2 - 1
        reals = lambda n, resolution=None: (real[:n], None)  # noqa: E731
        out[precision], used = m.train_step(0, reals, torch.Generator().manual_seed(0))
        assert used == 8 and all(torch.isfinite(v) for v in out[precision].values())
        img = m.generate(m.G, torch.randn(3, cfg.latent_dim), nimg=0)
        assert img.dtype == torch.float32 and img.shape == (3, 3, phase.resolution, phase.resolution)
    for k in ("loss_d", "loss_g", "gp"):
        assert float(out["bf16"][k]) == pytest.approx(float(out["fp32"][k]), rel=0.1, abs=0.05), k

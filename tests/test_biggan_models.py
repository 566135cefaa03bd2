"""Tests for the BigGAN layers in gancore.nn and the networks of gancore.models.biggan (Brock et al. 2019 §3, App. B),
BigGAN-deep included."""
from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancore.models.biggan import (
    DeepDiscriminatorBlock,
    DeepGeneratorBlock,
    Discriminator,
    DiscriminatorDeep,
    Generator,
    GeneratorDeep,
    biggan_arch,
    count_params,
)
from gancore.nn import SNConv2d, SNEmbedding, SNLinear, ConditionalBatchNorm2d, SelfAttention, sn

RES = 32
# The default attention_res=(64,) does not exist at 32²; tests that want attention pass it.
TINY_G = dict(resolution=RES, ch=4, dim_z=8, shared_dim=6, num_classes=3, attention_res=())  # 4 z chunks of 2
TINY_D = dict(resolution=RES, ch=4, num_classes=3, attention_res=())
N = 4


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _labels(n: int = N) -> torch.Tensor:
    return torch.arange(n) % 3


def _sigma_max(weight: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(weight.detach().reshape(weight.shape[0], -1), ord=2))


# ---------------------------------------------------------------------------------------------------------------------
# Layers (gancore.nn BigGAN section)
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["conv", "linear", "embedding"])
def test_spectral_norm_scales_largest_singular_value_to_one(kind):
    make = {"conv": lambda: SNConv2d(in_channels=6, out_channels=5, sn_eps=1e-4),
            "linear": lambda: SNLinear(in_features=12, out_features=7, sn_eps=1e-4),
            "embedding": lambda: SNEmbedding(num_embeddings=5, embedding_dim=9, sn_eps=1e-4)}[kind]
    layer = make()
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(10.0)
    x = {"conv": torch.randn(2, 6, 4, 4), "linear": torch.randn(2, 12), "embedding": torch.tensor([0, 3])}[kind]
    layer.train()
    for _ in range(30):  # one power iteration per training forward pass
        layer(x)
    assert _sigma_max(layer.parametrizations.weight.original) > 5.0
    assert _sigma_max(layer.weight) == pytest.approx(1.0, abs=1e-3)
    assert layer.parametrizations.weight[0].eps == 1e-4


def test_sn_rejects_bad_eps_and_weightless_modules():
    with pytest.raises(ValueError, match="eps"):
        sn(nn.Linear(2, 2), eps=0.0)
    with pytest.raises(ValueError, match="ReLU"):
        sn(nn.ReLU())


def test_sn_ortho_init_gives_orthogonal_rows():
    layer = SNConv2d(in_channels=4, out_channels=8, sn_eps=1e-4, ortho_init=True)
    w = layer.parametrizations.weight.original.reshape(8, -1)
    torch.testing.assert_close(w @ w.T, torch.eye(8), atol=1e-5, rtol=0)


def test_attention_with_zero_gamma_is_identity():
    attn = SelfAttention(channels=16)
    x = torch.randn(2, 16, 8, 8)
    assert attn.gamma.item() == 0.0
    torch.testing.assert_close(attn(x), x)


def test_attention_matches_scaled_dot_product_attention():
    attn = SelfAttention(channels=16).eval()
    with torch.no_grad():
        attn.gamma.fill_(0.7)
    x = torch.randn(2, 16, 8, 6)
    q = attn.theta(x).flatten(2).transpose(1, 2)
    k = F.max_pool2d(attn.phi(x), 2).flatten(2).transpose(1, 2)
    v = F.max_pool2d(attn.g(x), 2).flatten(2).transpose(1, 2)
    o = F.scaled_dot_product_attention(q, k, v, scale=1.0).transpose(1, 2).reshape(2, 8, 8, 6)
    torch.testing.assert_close(attn(x), x + 0.7 * attn.o(o), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bad", [dict(channels=4), dict(channels=16, x_shape=(1, 8, 4, 4)),
                                 dict(channels=16, x_shape=(1, 16, 5, 4))])
def test_attention_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        SelfAttention(channels=bad["channels"])(torch.randn(*bad.get("x_shape", (1, 4, 4, 4))))


@pytest.mark.parametrize("spectral_norm", [True, False])
def test_cbn_is_plain_batchnorm_at_zero_condition(spectral_norm):
    cbn = ConditionalBatchNorm2d(num_features=5, cond_dim=3, spectral_norm=spectral_norm)
    x = torch.randn(6, 5, 4, 4) * 3 + 1
    expected = F.batch_norm(x, None, None, training=True, eps=1e-4)
    torch.testing.assert_close(cbn(x, torch.zeros(6, 3)), expected)


def test_cbn_gain_one_bias_zero_at_zero_initialised_projection():
    cbn = ConditionalBatchNorm2d(num_features=5, cond_dim=3, spectral_norm=False)
    nn.init.zeros_(cbn.gain.weight)
    nn.init.zeros_(cbn.bias.weight)
    x = torch.randn(6, 5, 4, 4)
    torch.testing.assert_close(cbn(x, torch.randn(6, 3)), F.batch_norm(x, None, None, training=True, eps=1e-4))


def test_cbn_matches_one_centred_gain_and_bias():
    cbn = ConditionalBatchNorm2d(num_features=5, cond_dim=3, spectral_norm=False)
    x, cond = torch.randn(6, 5, 4, 4), torch.randn(6, 3)
    normed = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(0, 2, 3), correction=0,
                                                                            keepdim=True) + 1e-4)
    gain = 1 + cond @ cbn.gain.weight.T
    bias = cond @ cbn.bias.weight.T
    torch.testing.assert_close(cbn(x, cond), normed * gain[:, :, None, None] + bias[:, :, None, None],
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="N×3"):
        cbn(x, torch.randn(6, 4))


# ---------------------------------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("attention_res", [(), (16,)])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("hier", [True, False])
def test_generator_shapes_range_and_class_dependence(hier, shared, attention_res):
    g = Generator(**{**TINY_G, "attention_res": attention_res}, hier=hier, shared=shared)
    if attention_res:
        with torch.no_grad():
            g.attention["1"].gamma.fill_(1.0)  # else the attention block is the identity and untested
    z = torch.randn(N, 8)
    x = g(z, _labels())
    assert x.shape == (N, 3, RES, RES)
    assert torch.isfinite(x).all() and x.abs().max() <= 1.0
    assert not torch.allclose(g(z, _labels()), g(z, (_labels() + 1) % 3))
    x.mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in g.parameters() if p.grad is not None)


@pytest.mark.parametrize("hier", [True, False])
def test_hierarchical_latent_chunks(hier):
    g = Generator(**TINY_G, hier=hier).eval()
    blocks = len(biggan_arch(resolution=RES, ch=4, net="G").in_channels)
    chunks = g.split_latent(torch.randn(N, 8))
    assert len(chunks) == (blocks + 1 if hier else 1)
    assert g.linear.in_features == 8 // len(chunks)
    assert g.blocks[0].bn1.cond_dim == 6 + (2 if hier else 0)
    # The last block's CBN condition: [class embedding, last z chunk] with hier, the class embedding alone without.
    seen = {}
    g.blocks[-1].bn1.register_forward_hook(lambda m, args, out: seen.update(cond=args[1]))
    z = torch.randn(N, 8)
    g(z, _labels())
    class_vec = g.shared(_labels())
    expected = torch.cat([class_vec, z[:, -2:]], dim=1) if hier else class_vec
    torch.testing.assert_close(seen["cond"], expected)


def test_hier_requires_divisible_dim_z():
    with pytest.raises(ValueError, match="multiple of 4"):
        Generator(**{**TINY_G, "dim_z": 9})


@pytest.mark.parametrize("attention_res", [(), (8,), (16,)])
def test_discriminator_scores_and_projection_term(attention_res):
    d = Discriminator(**{**TINY_D, "attention_res": attention_res})
    x, y = torch.randn(N, 3, RES, RES), _labels()
    out = d(x, y)
    assert out.shape == (N,) and torch.isfinite(out).all()
    # Projection (Miyato & Koyama 2018): changing the class only changes ⟨embed(y), φ(x)⟩.
    y2 = (y + 1) % 3
    phi = d.features(x)
    expected = ((d.embed(y) - d.embed(y2)) * phi).sum(dim=1)
    torch.testing.assert_close(out - d(x, y2), expected, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(out, d(x, y2))


def test_discriminator_attention_inserted_once_per_resolution():
    # At 32² three D blocks output 8×8; attention goes after the first of them only.
    d = Discriminator(**{**TINY_D, "attention_res": (8,)})
    assert list(d.attention) == ["1"]


def test_sync_batchnorm_conversion_covers_all_generator_bns():
    g = nn.SyncBatchNorm.convert_sync_batchnorm(Generator(**TINY_G))
    bns = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 2 * 3 + 1 and all(isinstance(m, nn.SyncBatchNorm) for m in bns)


@pytest.mark.parametrize("net", [Generator, Discriminator])
def test_orthogonal_init(net):
    tiny = TINY_G if net is Generator else TINY_D
    m = net(**tiny, ortho_init=True)
    w = m.blocks[1].conv1.parametrizations.weight.original
    w = w.reshape(w.shape[0], -1)
    torch.testing.assert_close(w @ w.T, torch.eye(w.shape[0]), atol=1e-5, rtol=0)
    if net is Generator:
        e = m.shared.weight  # 3×6: orthonormal rows
        torch.testing.assert_close(e @ e.T, torch.eye(3), atol=1e-5, rtol=0)


@pytest.mark.parametrize("bad, match", [
    (dict(resolution=48), "resolution"),
    (dict(attention_res=(5,)), "attention_res"),
    (dict(num_classes=0), "num_classes"),
])
@pytest.mark.parametrize("net", [Generator, Discriminator])
def test_constructor_rejects_bad_arguments(net, bad, match):
    tiny = TINY_G if net is Generator else TINY_D
    with pytest.raises(ValueError, match=match):
        net(**{**tiny, **bad})


def test_forward_rejects_bad_inputs():
    g, d = Generator(**TINY_G), Discriminator(**TINY_D)
    with pytest.raises(ValueError, match="z must be"):
        g(torch.randn(N, 7), _labels())
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        g(torch.randn(N, 8), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="x must be"):
        d(torch.randn(N, 3, 16, 16), _labels())
    with pytest.raises(ValueError, match="integer"):
        d(torch.randn(N, 3, RES, RES), _labels().float())


@pytest.mark.parametrize("resolution, g_blocks, d_blocks, d_final", [(32, 3, 4, 8), (64, 4, 5, 4), (128, 5, 6, 4),
                                                                     (256, 6, 7, 4), (512, 7, 8, 4)])
def test_arch_tables(resolution, g_blocks, d_blocks, d_final):
    ga = biggan_arch(resolution=resolution, ch=96, net="G")
    da = biggan_arch(resolution=resolution, ch=96, net="D")
    assert len(ga.in_channels) == g_blocks and ga.out_resolution[-1] == resolution
    assert len(da.in_channels) == d_blocks and da.in_channels[0] == 3 and da.out_resolution[-1] == d_final
    # Block i's output feeds block i+1.
    assert ga.out_channels[:-1] == ga.in_channels[1:] and da.out_channels[:-1] == da.in_channels[1:]


# Table 1 at 128×128: (ch, shared, hier, params in millions).
TABLE1 = [(64, False, False, 81.5), (96, False, False, 173.5), (96, True, False, 160.6), (96, True, True, 158.3),
          (64, True, True, 71.3)]


@functools.lru_cache
def _discriminator_params(ch: int) -> int:
    # D does not depend on shared/hier; building it once per ch saves time (meta construction is slow-ish).
    with torch.device("meta"):
        return count_params(Discriminator(ch=ch, ortho_init=False))


@pytest.mark.parametrize("ch, shared, hier, millions", TABLE1)
def test_table1_parameter_counts(ch, shared, hier, millions):
    """G+D parameter counts of Table 1 (128×128, 1000 classes, dim_z 120, attention at 64), within 1%.

    Built on the meta device (no memory, no init cost). Measured: 81.33M, 173.34M, 160.58M, 158.42M, 71.43M — all
    within 0.2% of the paper. The non-shared rows count one class table per CBN gain and bias (SAGAN's per-layer
    embeddings); ortho (row 8 vs 7) adds no parameters. Spectral-norm u/v vectors and BN statistics are buffers.
    """
    with torch.device("meta"):
        g = Generator(ch=ch, shared=shared, hier=hier, ortho_init=False)
    total = count_params(g) + _discriminator_params(ch)
    assert total / 1e6 == pytest.approx(millions, rel=0.01)


# ---------------------------------------------------------------------------------------------------------------------
# BigGAN-deep (App. B, Fig. 16)
# ---------------------------------------------------------------------------------------------------------------------
TINY_DEEP_G = dict(resolution=RES, ch=4, dim_z=8, shared_dim=6, num_classes=3, attention_res=())
TINY_DEEP_D = dict(resolution=RES, ch=4, num_classes=3, attention_res=())


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("attention_res", [(), (16,)])
def test_deep_networks_shapes_and_class_dependence(attention_res, depth):
    g = GeneratorDeep(**{**TINY_DEEP_G, "attention_res": attention_res}, depth=depth)
    d = DiscriminatorDeep(**{**TINY_DEEP_D, "attention_res": attention_res}, depth=depth)
    for attn in [m for m in [*g.modules(), *d.modules()] if isinstance(m, SelfAttention)]:
        with torch.no_grad():
            attn.gamma.fill_(1.0)
    assert sum(isinstance(m, DeepGeneratorBlock) for m in g.modules()) == 3 * depth
    assert sum(isinstance(m, DeepDiscriminatorBlock) for m in d.modules()) == 3 * depth
    z, y = torch.randn(N, 8), _labels()
    x = g(z, y)
    assert x.shape == (N, 3, RES, RES) and torch.isfinite(x).all() and x.abs().max() <= 1.0
    assert not torch.allclose(x, g(z, (y + 1) % 3))
    out = d(x, y)
    assert out.shape == (N,) and torch.isfinite(out).all()
    expected = ((d.embed(y) - d.embed((y + 1) % 3)) * d.features(x)).sum(dim=1)
    torch.testing.assert_close(out - d(x, (y + 1) % 3), expected, atol=1e-4, rtol=1e-4)


def test_deep_generator_feeds_z_and_embedding_to_every_block():
    g = GeneratorDeep(**TINY_DEEP_G).eval()
    seen = []
    for block in g.layers:
        block.bn1.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    z, y = torch.randn(N, 8), _labels()
    g(z, y)
    expected = torch.cat([z, g.shared(y)], dim=1)
    assert len(seen) == len(g.layers) == 6
    for cond in seen:
        torch.testing.assert_close(cond, expected)
    assert g.linear.in_features == 8 + 6


def test_deep_generator_block_skip_upsamples_and_drops_channels():
    block = DeepGeneratorBlock(in_channels=8, out_channels=4, cond_dim=3, upsample=True, channel_ratio=4,
                               sn_eps=1e-4, bn_eps=1e-4, ortho_init=False)
    assert block.conv1.out_channels == 2  # bottleneck: in / channel_ratio
    # Silence the residual branch (SN of an all-zero weight would be 0/0, so drop SN first): only the skip remains.
    nn.utils.parametrize.remove_parametrizations(block.conv4, "weight")
    nn.init.zeros_(block.conv4.weight)
    nn.init.zeros_(block.conv4.bias)
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(block(x, torch.randn(2, 3)), F.interpolate(x, scale_factor=2)[:, :4],
                               atol=1e-5, rtol=0)


def test_deep_discriminator_block_skip_keeps_input_and_adds_channels():
    block = DeepDiscriminatorBlock(in_channels=4, out_channels=8, downsample=True, channel_ratio=4, sn_eps=1e-4,
                                   ortho_init=False)
    x = torch.randn(2, 4, 8, 8)
    pooled = F.avg_pool2d(x, 2)
    h = block.conv1(F.relu(x))
    h = block.conv3(F.relu(block.conv2(F.relu(h))))
    h = block.conv4(F.avg_pool2d(F.relu(h), 2))
    expected = h + torch.cat([pooled, block.shortcut(pooled)], dim=1)
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("net, bad, match", [
    (GeneratorDeep, dict(resolution=512), "BigGAN-deep resolution"),
    (DiscriminatorDeep, dict(resolution=512), "BigGAN-deep resolution"),
    (GeneratorDeep, dict(depth=0), "depth"),
    (DiscriminatorDeep, dict(channel_ratio=0), "channel_ratio"),
    (DiscriminatorDeep, dict(attention_res=(4,)), "attention_res"),
])
def test_deep_constructors_reject_bad_arguments(net, bad, match):
    tiny = TINY_DEEP_G if net is GeneratorDeep else TINY_DEEP_D
    with pytest.raises(ValueError, match=match):
        net(**{**tiny, **bad})


def test_deep_parameter_count_at_128():
    """BigGAN-deep at 128², ch=128, 1000 classes: measured G 50.24M + D 34.59M = 84.83M.

    The extracted paper has no BigGAN-deep parameter table to compare with, so this pins the measured count (±1%) to
    catch accidental architecture changes rather than asserting a published number.
    """
    with torch.device("meta"):
        g, d = GeneratorDeep(ortho_init=False), DiscriminatorDeep(ortho_init=False)
    assert count_params(g) / 1e6 == pytest.approx(50.24, rel=0.01)
    assert count_params(d) / 1e6 == pytest.approx(34.59, rel=0.01)


@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("shared", [True, False])
def test_class_vector_entry_matches_labels_and_mixes(deep, shared):
    if deep and not shared:
        pytest.skip("BigGAN-deep always has the shared embedding")
    G = (GeneratorDeep(resolution=RES, ch=8, dim_z=8, shared_dim=6, num_classes=3, attention_res=(), depth=1)
         if deep else Generator(shared=shared, **TINY_G)).eval()
    z, y = torch.randn(N, 8), _labels()
    with torch.no_grad():
        by_label = G(z, y)
        by_vec = G(z, class_vec=G.class_vector(y))
        a, b = G.class_vector(torch.zeros(N, dtype=torch.long)), G.class_vector(torch.ones(N, dtype=torch.long))
        mid = G(z, class_vec=torch.lerp(a, b, 0.5))
    torch.testing.assert_close(by_vec, by_label)
    assert not torch.allclose(mid, G(z, torch.zeros(N, dtype=torch.long)))
    with pytest.raises(ValueError, match="exactly one"):
        G(z, y, class_vec=G.class_vector(y))
    with pytest.raises(ValueError, match="exactly one"):
        G(z)
    with pytest.raises(ValueError, match="class_vec must be"):
        G(z, class_vec=torch.zeros(N, 2))

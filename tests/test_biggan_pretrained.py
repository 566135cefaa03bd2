"""Loading the converted BigGAN-deep release (pytorch-pretrained-BigGAN's biggan-deep-128/256/512) into GeneratorDeep.

Nothing downloads: the tests write state dicts in the release's exact format (its key names and shapes, for tiny
configs with the release's layer structure) filled with random values, and compare gancore's generator with an
independent plain-torch re-implementation of the release's forward pass.
"""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.parametrizations import _SpectralNorm

from gancore.checkpoint import CheckpointError
from gancore.models.biggan import DeepGeneratorBlock, GeneratorDeep, count_params
from gancore.models.biggan_pretrained import (
    ReleaseFormatError,
    bn_statistics,
    class_vec_from_release,
    converted_config,
    generator_kwargs,
    load_converted_biggan_deep,
    parse_config,
    set_bn_truncation,
    truncated_noise,
)
from gancore.nn import SelfAttention

F_, T_ = False, True
# The release's 128² layer list (upsample, in_mult, out_mult) and a 64² list of the same structure.
LAYERS_128 = [(F_, 16, 16), (T_, 16, 16), (F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 4), (F_, 4, 4), (T_, 4, 2),
              (F_, 2, 2), (T_, 2, 1)]
LAYERS_64 = [(F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 4), (F_, 4, 4), (T_, 4, 2), (F_, 2, 2), (T_, 2, 1)]
LAYERS_512 = [(F_, 16, 16), (T_, 16, 16), (F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 8), (F_, 8, 8), (T_, 8, 4),
              (F_, 4, 4), (T_, 4, 2), (F_, 2, 2), (T_, 2, 1), (F_, 1, 1), (T_, 1, 1)]
TINY = {
    "128": dict(output_dim=128, z_dim=8, class_embed_dim=8, channel_width=4, num_classes=5, layers=LAYERS_128,
                attention_layer_position=8, eps=1e-4, n_stats=11),
    "64": dict(output_dim=64, z_dim=6, class_embed_dim=6, channel_width=4, num_classes=4, layers=LAYERS_64,
               attention_layer_position=6, eps=1e-4, n_stats=6),
    # 512² layout (no attention: position past the end, as the release then never inserts it).
    "512": dict(output_dim=512, z_dim=4, class_embed_dim=4, channel_width=4, num_classes=3, layers=LAYERS_512,
                attention_layer_position=99, eps=1e-4, n_stats=11),
}
N = 2


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---------------------------------------------------------------------------------------------------------------------
# A state dict in the release's format, and the release's forward pass, written from the release's model definition
# ---------------------------------------------------------------------------------------------------------------------
def _sn_entries(sd: dict, prefix: str, shape: tuple[int, ...], *, bias: bool) -> None:
    w = torch.randn(shape) / math.sqrt(math.prod(shape[1:]))
    mat = w.reshape(shape[0], -1)
    # As the conversion script: u from TF, then one power-iteration step gives v and the final u.
    u = F.normalize(torch.randn(shape[0]), dim=0)
    v = F.normalize(mat.t() @ u, dim=0)
    u = F.normalize(mat @ v, dim=0)
    sd[f"{prefix}.weight_orig"], sd[f"{prefix}.weight_u"], sd[f"{prefix}.weight_v"] = w, u, v
    if bias:
        sd[f"{prefix}.bias"] = 0.1 * torch.randn(shape[0])


def _bank_entries(sd: dict, prefix: str, c: int, n_stats: int) -> None:
    sd[f"{prefix}.running_means"] = 0.3 * torch.randn(n_stats, c)
    sd[f"{prefix}.running_vars"] = 0.5 + torch.rand(n_stats, c)


def release_state_dict(cfg: dict) -> dict[str, torch.Tensor]:
    ch, zd, ns = cfg["channel_width"], cfg["z_dim"], cfg["n_stats"]
    cond = 2 * zd
    sd: dict[str, torch.Tensor] = {"embeddings.weight": torch.randn(zd, cfg["num_classes"])}
    _sn_entries(sd, "generator.gen_z", (4 * 4 * 16 * ch, cond), bias=True)
    j = 0
    for i, (_up, m_in, m_out) in enumerate(cfg["layers"]):
        if i == cfg["attention_layer_position"]:
            c = ch * m_in
            p = f"generator.layers.{j}"
            _sn_entries(sd, f"{p}.snconv1x1_theta", (c // 8, c, 1, 1), bias=False)
            _sn_entries(sd, f"{p}.snconv1x1_phi", (c // 8, c, 1, 1), bias=False)
            _sn_entries(sd, f"{p}.snconv1x1_g", (c // 2, c, 1, 1), bias=False)
            _sn_entries(sd, f"{p}.snconv1x1_o_conv", (c, c // 2, 1, 1), bias=False)
            sd[f"{p}.gamma"] = torch.tensor([0.7])
            j += 1
        c_in, c_out = ch * m_in, ch * m_out
        mid = c_in // 4
        p = f"generator.layers.{j}"
        for k, c in enumerate([c_in, mid, mid, mid]):
            _bank_entries(sd, f"{p}.bn_{k}", c, ns)
            _sn_entries(sd, f"{p}.bn_{k}.scale", (c, cond), bias=False)
            _sn_entries(sd, f"{p}.bn_{k}.offset", (c, cond), bias=False)
        for k, shape in enumerate([(mid, c_in, 1, 1), (mid, mid, 3, 3), (mid, mid, 3, 3), (c_out, mid, 1, 1)]):
            _sn_entries(sd, f"{p}.conv_{k}", shape, bias=True)
        j += 1
    _bank_entries(sd, "generator.bn", ch, ns)
    sd["generator.bn.weight"] = 1 + 0.1 * torch.randn(ch)
    sd["generator.bn.bias"] = 0.1 * torch.randn(ch)
    _sn_entries(sd, "generator.conv_to_rgb", (ch, ch, 3, 3), bias=True)
    return sd


def _w(sd: dict, p: str) -> torch.Tensor:
    """Eval-mode weight of torch's old spectral_norm: W / (uᵀ W v) with the stored vectors."""
    w = sd[f"{p}.weight_orig"]
    return w / torch.dot(sd[f"{p}.weight_u"], w.reshape(w.shape[0], -1) @ sd[f"{p}.weight_v"])


def _stats(sd: dict, p: str, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    means, variances = sd[f"{p}.running_means"], sd[f"{p}.running_vars"]
    coef, start = math.modf(t / (1.0 / (means.shape[0] - 1)))
    k = int(start)
    if coef == 0.0:
        return means[k], variances[k]
    return means[k] * coef + means[k + 1] * (1 - coef), variances[k] * coef + variances[k + 1] * (1 - coef)


def reference_forward(sd: dict, cfg: dict, z: torch.Tensor, class_vector: torch.Tensor, t: float) -> torch.Tensor:
    ch, eps = cfg["channel_width"], cfg["eps"]
    cond = torch.cat([z, class_vector @ sd["embeddings.weight"].t()], dim=1)

    def cbn(x, p):
        mean, var = _stats(sd, p, t)
        gain = 1 + cond @ _w(sd, f"{p}.scale").t()
        bias = cond @ _w(sd, f"{p}.offset").t()
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + eps) * gain[..., None, None] \
            + bias[..., None, None]

    def conv(x, p, pad):
        return F.conv2d(x, _w(sd, p), sd.get(f"{p}.bias"), padding=pad)

    h = F.linear(cond, _w(sd, "generator.gen_z"), sd["generator.gen_z.bias"])
    h = h.view(-1, 4, 4, 16 * ch).permute(0, 3, 1, 2)
    j = 0
    for i, (up, m_in, m_out) in enumerate(cfg["layers"]):
        if i == cfg["attention_layer_position"]:
            p = f"generator.layers.{j}"
            n, c, hh, ww = h.shape
            theta = conv(h, f"{p}.snconv1x1_theta", 0).view(n, c // 8, hh * ww)
            phi = F.max_pool2d(conv(h, f"{p}.snconv1x1_phi", 0), 2).view(n, c // 8, hh * ww // 4)
            attn = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
            g = F.max_pool2d(conv(h, f"{p}.snconv1x1_g", 0), 2).view(n, c // 2, hh * ww // 4)
            o = conv(torch.bmm(g, attn.permute(0, 2, 1)).view(n, c // 2, hh, ww), f"{p}.snconv1x1_o_conv", 0)
            h = h + sd[f"{p}.gamma"] * o
            j += 1
        p = f"generator.layers.{j}"
        x0 = h
        x = conv(F.relu(cbn(h, f"{p}.bn_0")), f"{p}.conv_0", 0)
        x = F.relu(cbn(x, f"{p}.bn_1"))
        if up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = conv(x, f"{p}.conv_1", 1)
        x = conv(F.relu(cbn(x, f"{p}.bn_2")), f"{p}.conv_2", 1)
        x = conv(F.relu(cbn(x, f"{p}.bn_3")), f"{p}.conv_3", 0)
        if m_in != m_out:
            x0 = x0[:, : x0.shape[1] // 2]
        if up:
            x0 = F.interpolate(x0, scale_factor=2, mode="nearest")
        h = x + x0
        j += 1
    mean, var = _stats(sd, "generator.bn", t)
    h = F.batch_norm(h, mean, var, sd["generator.bn.weight"], sd["generator.bn.bias"], training=False, eps=eps)
    return torch.tanh(conv(F.relu(h), "generator.conv_to_rgb", 1)[:, :3])


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, tuple[dict, dict, object]]:
    """Per tiny config: (config, release state dict, path of its torch.save'd file)."""
    torch.manual_seed(1)
    out = {}
    for name, cfg in TINY.items():
        sd = release_state_dict(cfg)
        path = tmp_path_factory.mktemp(f"release{name}") / "pytorch_model.bin"
        torch.save(sd, path)
        out[name] = (cfg, sd, path)
    return out


def _inputs(cfg: dict, t: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    z = truncated_noise(N, truncation=t, dim=cfg["z_dim"], seed=3)
    return z, torch.arange(N) % cfg["num_classes"]


# ---------------------------------------------------------------------------------------------------------------------
# Config and architecture
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resolution, millions, blocks, att_channels", [(128, 50.4, 10, 256), (256, 55.9, 12, 512),
                                                                         (512, 56.2, 14, 512)])
def test_converted_config_builds_the_release_architecture(resolution, millions, blocks, att_channels, monkeypatch):
    """Parameter counts as the release README states them (50.4M / 55.9M / 56.2M), plus its layer structure."""
    # Spectral norm's power-iteration warm-up costs ~8 s of op dispatch per model on the meta device and does not
    # change any shape; skip it.
    monkeypatch.setattr(_SpectralNorm, "_power_method", lambda self, weight_mat, n_power_iterations: None)
    cfg = converted_config(resolution)
    with torch.device("meta"):
        g = GeneratorDeep(**generator_kwargs(cfg))
    assert round(count_params(g) / 1e6, 1) == millions
    deep_blocks = [m for m in g.layers if isinstance(m, DeepGeneratorBlock)]
    assert len(deep_blocks) == len(cfg["layers"]) == blocks
    attn = [i for i, m in enumerate(g.layers) if isinstance(m, SelfAttention)]
    assert attn == [cfg["attention_layer_position"]] and g.layers[attn[0]].channels == att_channels
    for block, (up, m_in, m_out) in zip(deep_blocks, cfg["layers"]):
        assert (block.upsample, block.conv1.in_channels, block.out_channels) == (up, 128 * m_in, 128 * m_out)
    assert g.to_rgb.out_channels == 128 and g.linear.out_features == 4 * 4 * 16 * 128
    assert g.dim_z == 128 and g.num_classes == 1000 and g.shared.embedding_dim == 128


def test_converted_config_rejects_unreleased_resolution():
    with pytest.raises(ValueError, match="128, 256, 512"):
        converted_config(64)


# ---------------------------------------------------------------------------------------------------------------------
# Every tensor lands in place
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TINY))
def test_every_release_tensor_lands_in_its_gancore_parameter(releases, name):
    cfg, sd, path = releases[name]
    G = load_converted_biggan_deep(path, config=cfg, truncation=0.5)
    ch = cfg["channel_width"]
    checked: set[str] = set()

    def same(key, value):
        torch.testing.assert_close(value, sd[key], rtol=0, atol=0)
        checked.add(key)

    def sn(prefix, module, *, rows=lambda t: t):
        pz = module.parametrizations.weight
        same(f"{prefix}.weight_orig", rows(pz.original))
        same(f"{prefix}.weight_u", rows(pz[0]._u))
        same(f"{prefix}.weight_v", pz[0]._v)
        if f"{prefix}.bias" in sd:
            same(f"{prefix}.bias", rows(module.bias))

    def bank(prefix, bn):
        same(f"{prefix}.running_means", bn.truncation_means)
        same(f"{prefix}.running_vars", bn.truncation_vars)
        mean, var = _stats(sd, prefix, 0.5)
        torch.testing.assert_close(bn.running_mean, mean)
        torch.testing.assert_close(bn.running_var, var)

    same("embeddings.weight", G.shared.weight.t())
    # gancore views gen_z's output as C×4×4, the release as 4×4×C: rows (c, s) ↔ (s, c).
    sn("generator.gen_z", G.linear,
       rows=lambda t: t.reshape(16 * ch, 16, *t.shape[1:]).transpose(0, 1).reshape(t.shape))
    j = 0
    for i in range(len(cfg["layers"])):
        if i == cfg["attention_layer_position"]:
            att = G.layers[j]
            for rn, mod in (("theta", att.theta), ("phi", att.phi), ("g", att.g), ("o_conv", att.o)):
                sn(f"generator.layers.{j}.snconv1x1_{rn}", mod)
            same(f"generator.layers.{j}.gamma", att.gamma.reshape(1))
            j += 1
        block = G.layers[j]
        for k in range(4):
            cbn = getattr(block, f"bn{k + 1}")
            bank(f"generator.layers.{j}.bn_{k}", cbn.bn)
            sn(f"generator.layers.{j}.bn_{k}.scale", cbn.gain)
            sn(f"generator.layers.{j}.bn_{k}.offset", cbn.bias)
            sn(f"generator.layers.{j}.conv_{k}", getattr(block, f"conv{k + 1}"))
        j += 1
    bank("generator.bn", G.out_bn)
    same("generator.bn.weight", G.out_bn.weight)
    same("generator.bn.bias", G.out_bn.bias)
    sn("generator.conv_to_rgb", G.to_rgb)
    assert checked == set(sd)
    assert not G.training


# ---------------------------------------------------------------------------------------------------------------------
# Numerics against the independent release forward
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, truncation", [("128", 1.0), ("128", 0.37), ("64", 0.4), ("64", 0.93), ("512", 0.55)])
def test_generator_matches_release_forward(releases, name, truncation):
    cfg, sd, path = releases[name]
    G = load_converted_biggan_deep(path, config=cfg, truncation=truncation)
    z, y = _inputs(cfg, truncation)
    one_hot = F.one_hot(y, cfg["num_classes"]).float()
    with torch.no_grad():
        x = G(z, y)
        ref = reference_forward(sd, cfg, z, one_hot, truncation)
    r = cfg["output_dim"]
    assert x.shape == (N, 3, r, r) and torch.isfinite(x).all() and x.abs().max() <= 1.0
    assert (x.abs() < 0.99).float().mean() > 0.5  # not saturated, so the comparison below means something
    torch.testing.assert_close(x, ref, rtol=1e-4, atol=1e-5)


def test_soft_class_vectors_and_truncation_switch_match_release(releases):
    cfg, sd, path = releases["64"]
    G = load_converted_biggan_deep(path, config=cfg)
    z, _ = _inputs(cfg, 0.7)
    soft = torch.softmax(torch.randn(N, cfg["num_classes"]), dim=1)
    for t in (0.7, 0.33, 1.0):
        set_bn_truncation(G, t)
        with torch.no_grad():
            x = G(z, class_vec=class_vec_from_release(G, soft))
        torch.testing.assert_close(x, reference_forward(sd, cfg, z, soft, t), rtol=1e-4, atol=1e-5)
        assert G.bn_truncation == t
    eye = torch.eye(cfg["num_classes"])[:N]
    torch.testing.assert_close(class_vec_from_release(G, eye), G.class_vector(torch.arange(N)))


def test_bn_statistics_interpolation_modes():
    means, variances = torch.arange(11.0)[:, None].repeat(1, 2), 1 + torch.arange(11.0)[:, None].repeat(1, 2)
    # On the grid both modes return the bank entry; off the grid the release weighs the two entries the other way.
    for mode in ("release", "linear"):
        torch.testing.assert_close(bn_statistics(means, variances, 0.5, mode=mode)[0], torch.full((2,), 5.0))
        torch.testing.assert_close(bn_statistics(means, variances, 0.5, mode=mode)[1], torch.full((2,), 6.0))
    rel = bn_statistics(means, variances, 0.325, mode="release")[0]  # index 3.25: 0.25·bank[3] + 0.75·bank[4]
    lin = bn_statistics(means, variances, 0.325, mode="linear")[0]
    torch.testing.assert_close(rel, torch.full((2,), 3.75))
    torch.testing.assert_close(lin, torch.full((2,), 3.25))
    # 0.3 / 0.1 rounds to 2.9999999999999996: the release then takes (almost exactly) bank[2], linear bank[3].
    torch.testing.assert_close(bn_statistics(means, variances, 0.3)[0], torch.full((2,), 2.0))
    torch.testing.assert_close(bn_statistics(means, variances, 0.3, mode="linear")[0], torch.full((2,), 3.0))
    with pytest.raises(ValueError, match="truncation"):
        bn_statistics(means, variances, 0.0)
    with pytest.raises(ValueError, match="mode"):
        bn_statistics(means, variances, 0.5, mode="cubic")


def test_linear_mode_differs_off_grid(releases):
    cfg, _sd, path = releases["64"]
    a = load_converted_biggan_deep(path, config=cfg, truncation=0.45)
    b = load_converted_biggan_deep(path, config=cfg, truncation=0.45, mode="linear")
    assert not torch.allclose(a.out_bn.running_mean, b.out_bn.running_mean)
    set_bn_truncation(b, 0.4, mode="linear")
    set_bn_truncation(a, 0.4)
    torch.testing.assert_close(a.out_bn.running_mean, b.out_bn.running_mean)


def test_state_dict_is_plain_generator_deep_and_banks_follow_the_module(releases):
    cfg, _sd, path = releases["64"]
    G = load_converted_biggan_deep(path, config=cfg, truncation=0.6)
    fresh = GeneratorDeep(**generator_kwargs(cfg)).eval()
    fresh.load_state_dict(G.state_dict(), strict=True)
    z, y = _inputs(cfg)
    with torch.no_grad():
        torch.testing.assert_close(fresh(z, y), G(z, y))
    assert G.release_config["output_dim"] == 64
    G.double()
    assert G.out_bn.truncation_means.dtype == torch.float64
    with pytest.raises(ValueError, match="no truncation statistics"):
        set_bn_truncation(fresh, 0.5)


# ---------------------------------------------------------------------------------------------------------------------
# File handling and config discovery
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True])
def test_loads_folder_with_config_json_and_either_serialization(releases, tmp_path, legacy):
    cfg, sd, _ = releases["64"]
    # The released files date from torch 1.0, i.e. the legacy (non-zip) serialization.
    torch.save(sd, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy)
    (tmp_path / "config.json").write_text(json.dumps(cfg))  # JSON turns the layer tuples into lists, as the release's
    G = load_converted_biggan_deep(tmp_path)
    z, y = _inputs(cfg)
    with torch.no_grad():
        ref = reference_forward(sd, cfg, z, F.one_hot(y, cfg["num_classes"]).float(), 1.0)
        torch.testing.assert_close(G(z, y), ref, rtol=1e-4, atol=1e-5)
    # An in-memory state dict works too.
    assert load_converted_biggan_deep(sd, config=tmp_path / "config.json").resolution == 64


def test_without_config_the_official_one_is_inferred_from_the_block_count(releases):
    # The tiny 128-structured file has the release's 10 blocks, so biggan-deep-128 is assumed and its shapes differ.
    _cfg, _sd, path = releases["128"]
    with pytest.raises(ReleaseFormatError, match=r"generator\.gen_z\.weight_orig: expected \(32768, 256\), got "
                                                 r"\(1024, 16\)"):
        load_converted_biggan_deep(path)
    with pytest.raises(ReleaseFormatError, match="pass config="):
        load_converted_biggan_deep({"embeddings.weight": torch.zeros(1)})


def test_missing_and_truncated_and_foreign_files(releases, tmp_path):
    missing = tmp_path / "nowhere" / "pytorch_model.bin"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_converted_biggan_deep(missing, resolution=128)
    _cfg, _sd, path = releases["64"]
    data = path.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.bin.*unreadable"):
        load_converted_biggan_deep(cut, resolution=128)
    foreign = tmp_path / "tensor.bin"
    torch.save(torch.zeros(3), foreign)
    with pytest.raises(ReleaseFormatError, match="Tensor, not a state dict"):
        load_converted_biggan_deep(foreign, resolution=128)


def test_format_errors_name_the_keys_and_shapes(releases):
    cfg, sd, _ = releases["64"]
    broken = {k: v for k, v in sd.items() if k != "generator.layers.3.bn_2.scale.weight_u"}
    with pytest.raises(ReleaseFormatError, match=r"1 missing key\(s\).*generator\.layers\.3\.bn_2\.scale\.weight_u"):
        load_converted_biggan_deep(broken, config=cfg)
    extra = {**sd, "generator.extra.weight": torch.zeros(1)}
    with pytest.raises(ReleaseFormatError, match=r"unexpected key\(s\).*generator\.extra\.weight"):
        load_converted_biggan_deep(extra, config=cfg)
    wrong = {**sd, "generator.layers.2.conv_1.weight_orig": torch.zeros(4, 4, 1, 1)}
    with pytest.raises(ReleaseFormatError,
                       match=r"generator\.layers\.2\.conv_1\.weight_orig: expected \(8, 8, 3, 3\), got \(4, 4, 1, 1\)"):
        load_converted_biggan_deep(wrong, config=cfg)
    with pytest.raises(ReleaseFormatError, match="not floating point"):
        load_converted_biggan_deep({**sd, "generator.bn.weight": torch.ones(4, dtype=torch.long)}, config=cfg)


@pytest.mark.parametrize("change, match", [
    (dict(attention_layer_position=5), "attention_layer_position=5"),
    (dict(attention_layer_position=0), "attention_layer_position=0"),
    (dict(output_dim=128), "output_dim=128"),
    (dict(layers=LAYERS_64[:-1]), "out_mult 1"),
    (dict(layers=LAYERS_64 + [(F_, 1, 1)]), "do not upsample"),
    (dict(layers=[(T_, 16, 8), (F_, 8, 8), (T_, 8, 4), (T_, 4, 2), (T_, 2, 1)]), "same number of blocks"),
    (dict(layers=[(F_, 8, 8), (T_, 8, 4), (F_, 4, 4), (T_, 4, 2), (F_, 2, 2), (T_, 2, 1)]), "in_mult 16"),
    (dict(layers=[(F_, 16, 16), (T_, 16, 4), (F_, 4, 4), (T_, 4, 2), (F_, 2, 2), (T_, 2, 1)]), "in or in/2"),
    (dict(layers=[(F_, 16, 8), (T_, 8, 8), (F_, 8, 8), (T_, 8, 2), (F_, 2, 2), (T_, 2, 1)]), "without upsampling"),
    (dict(layers=[(F_, 16, 16), (T_, 16, 8), (F_, 8, 8), (T_, 8, 4)]), "out_mult 1"),
    (dict(n_stats=1), "n_stats"),
    (dict(channel_width=4.0), "channel_width"),
    (dict(truncation=0.4), "unknown release config keys"),
])
def test_config_errors(change, match):
    with pytest.raises(ReleaseFormatError, match=match):
        generator_kwargs({**TINY["64"], **change})


def test_partial_config_takes_the_release_defaults():
    cfg = parse_config({"layers": [list(layer) for layer in LAYERS_512], "attention_layer_position": 10})
    assert cfg["output_dim"] == 512 and cfg["layers"] == LAYERS_512
    assert {k: v for k, v in cfg.items() if k not in ("output_dim", "layers", "attention_layer_position")} == \
        {k: v for k, v in converted_config(128).items() if k not in ("output_dim", "layers", "attention_layer_position")}
    assert generator_kwargs(cfg)["attention_res"] == (128,)


def test_generator_deep_layout_options():
    """The two GeneratorDeep options the release needs: explicit stage multipliers and a wider output conv."""
    g = GeneratorDeep(resolution=16, ch=4, dim_z=4, shared_dim=4, num_classes=2, attention_res=(), depth=1,
                      stage_mults=((16, 4), (4, 2)), rgb_conv_channels=5).eval()
    assert [b.out_channels for b in g.layers] == [16, 8] and g.to_rgb.out_channels == 5
    assert g(torch.randn(N, 4), torch.arange(N) % 2).shape == (N, 3, 16, 16)
    with pytest.raises(ValueError, match="not resolution=32"):
        GeneratorDeep(resolution=32, ch=4, attention_res=(), stage_mults=((16, 4), (4, 2)))
    with pytest.raises(ValueError, match="rgb_conv_channels"):
        GeneratorDeep(resolution=32, ch=4, attention_res=(), rgb_conv_channels=2)
    with pytest.raises(ValueError, match="BigGAN-deep resolution"):  # the default table still has no 512
        GeneratorDeep(resolution=512, ch=4, attention_res=())


def test_resolution_must_agree_with_config(releases):
    cfg, sd, _ = releases["64"]
    with pytest.raises(ReleaseFormatError, match="resolution=128"):
        load_converted_biggan_deep(sd, config=cfg, resolution=128)


def test_truncated_noise_follows_the_release_sampler():
    z = truncated_noise(4000, truncation=0.4, dim=8, seed=0)
    assert z.shape == (4000, 8) and z.abs().max() <= 0.8
    torch.testing.assert_close(z, truncated_noise(4000, truncation=0.4, dim=8, seed=0))
    # std of a standard normal truncated to [-2, 2] is 0.880, times the truncation.
    assert z.std().item() == pytest.approx(0.4 * 0.880, rel=0.03)
    with pytest.raises(ValueError, match="truncation"):
        truncated_noise(2, truncation=1.5)

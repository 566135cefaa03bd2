"""alphaGAN's networks (Tian et al. §4.2, Fig. 2, App. 9.1): the ops, cells, supernet G with its relaxations, the
plain genotype G, the (searchable) D and the FLOPs counter. Everything runs at 4–8 channels except the published
parameter/FLOP counts, which need the paper's width (C = 256) and are construction plus one batch-1 forward."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancore.models.alphagan import (D_OPS, AlphaGANDiscriminator, AlphaGANGenerator, Cell, Edge, ReLUConv, SepConv,
                                     UpOp, count_flops, derive_d_ops, normal_op)
from gancore.models.alphagan_space import (NORMAL_OPS, PUBLISHED, UP_OPS, normal_edge_names, random_genotype,
                                     up_edge_names)
from gancore.nn import count_params

C = 4  # channels of every tiny network here
Z = 8  # latent size


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NORMAL_OPS)
@pytest.mark.parametrize("affine", [False, True])
def test_normal_op_keeps_shape_and_has_the_expected_parameters(name, affine):
    op = normal_op(name, channels=C, affine=affine)
    x = _x(2, C, 5, 6)
    y = op(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    k = int(name.rsplit("_", 1)[1].split("x")[0])
    if name.startswith("conv"):
        assert isinstance(op, ReLUConv)
        assert _numel(op) == C * C * k * k + C  # weight and bias of one k×k conv
        torch.testing.assert_close(y, F.conv2d(F.relu(x), op.conv.weight, op.conv.bias, padding=k // 2))
    else:
        assert isinstance(op, SepConv)
        # Two (depthwise k×k, pointwise 1×1, no biases) stages; BN's γ, β only with affine.
        assert _numel(op) == 2 * (C * k * k + C * C) + (2 * 2 * C if affine else 0)
        # By hand: ReLU → depthwise → pointwise → train-mode BN (batch statistics, biased variance), twice.
        h = x
        for dw, pw, bn in ((op.op[1], op.op[2], op.op[3]), (op.op[5], op.op[6], op.op[7])):
            h = F.conv2d(F.conv2d(F.relu(h), dw.weight, padding=k // 2, groups=C), pw.weight)
            mean, var = h.mean(dim=(0, 2, 3), keepdim=True), h.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
            h = (h - mean) / torch.sqrt(var + bn.eps)
            if affine:
                h = h * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
        torch.testing.assert_close(y, h, rtol=1e-4, atol=1e-5)


def test_normal_op_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="sep_conv_3x3"):
        normal_op("conv_9x9", channels=C, affine=False)
    with pytest.raises(ValueError, match="bilinear"):
        UpOp(name="pixelshuffle", channels=C)


@pytest.mark.parametrize("name", UP_OPS)
@pytest.mark.parametrize("times", [1, 2])
def test_up_op_scales_by_two_per_application(name, times):
    op = UpOp(name=name, channels=C, times=times)
    x = _x(2, C, 3, 5)
    y = op(x)
    f = 2 ** times
    assert y.shape == (2, C, 3 * f, 5 * f)
    assert torch.isfinite(y).all()
    if name == "nearest":  # every input pixel becomes an f×f block
        torch.testing.assert_close(y, x.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3), rtol=0, atol=0)
    elif name == "bilinear":  # a constant image stays constant; no parameters
        const = torch.full((1, C, 3, 5), 0.7)
        torch.testing.assert_close(op(const), torch.full((1, C, 3 * f, 5 * f), 0.7))
        assert _numel(op) == 0
    else:  # the deconv: one transposed conv applied `times` times, with the parameters of ONE ConvTranspose2d
        assert _numel(op) == _numel(nn.ConvTranspose2d(C, C, 2, stride=2)) == C * C * 4 + C
        ref = x
        for _ in range(times):
            ref = F.conv_transpose2d(ref, op.deconv.weight, op.deconv.bias, stride=2)
        torch.testing.assert_close(y, ref)


# ---------------------------------------------------------------------------------------------------------------------
# Edges and cells
# ---------------------------------------------------------------------------------------------------------------------
def _normal_edge():
    torch.manual_seed(0)
    return Edge(ops={n: normal_op(n, channels=C, affine=False) for n in NORMAL_OPS})


def test_mixed_edge_is_the_weighted_sum_of_its_ops():
    edge = _normal_edge()
    x = _x(2, C, 4, 4)
    w = F.softmax(_x(len(NORMAL_OPS), seed=1), dim=0)
    expected = sum(wi * op(x) for wi, op in zip(w, edge.ops))
    torch.testing.assert_close(edge(x, w), expected)


@pytest.mark.parametrize("k", range(len(NORMAL_OPS)))
def test_mixed_edge_with_one_hot_weights_is_exactly_that_op(k):
    edge = _normal_edge()
    x = _x(2, C, 4, 4)
    w = F.one_hot(torch.tensor(k), len(NORMAL_OPS)).float()
    assert torch.equal(edge(x, w), edge.ops[k](x))


def test_mixed_edge_needs_one_weight_per_op():
    edge = _normal_edge()
    x = _x(1, C, 4, 4)
    with pytest.raises(ValueError, match="one weight per op"):
        edge(x)
    with pytest.raises(ValueError, match="one weight per op"):
        edge(x, torch.ones(3) / 3)


@pytest.mark.parametrize("index", [1, 2, 3])
def test_supernet_cell_shapes(index):
    """Cell `index` of the supernet (every candidate op on every edge): node1 and node4 at twice the input size,
    with the cross-cell edges of Fig. 2 entering it (none into cell 1, ×2 from cell 1 into cell 2, ×4 from cell 1
    and ×2 from cell 2 into cell 3)."""
    torch.manual_seed(0)
    cross = {1: [], 2: [(list(UP_OPS), 2)], 3: [(list(UP_OPS), 4), (list(UP_OPS), 2)]}[index]
    cell = Cell(channels=C, index=index, normal=[list(NORMAL_OPS)] * 3, up=[list(UP_OPS)] * 2, cross=cross,
                affine=False)
    assert [len(e.ops) for e in cell.normal] == [6, 6, 6] and [len(e.ops) for e in cell.up] == [3, 3]
    h = 4
    x = _x(2, C, h, h)
    earlier = {1: [], 2: [_x(2, C, h, h, seed=1)], 3: [_x(2, C, h // 2, h // 2, seed=1), _x(2, C, h, h, seed=2)]}
    wn = [F.softmax(_x(6, seed=10 + i), dim=0) for i in range(3)]
    wu = [F.softmax(_x(3, seed=20 + i), dim=0) for i in range(2)]
    wc = [F.softmax(_x(3, seed=30 + i), dim=0) for i in range(len(cross))]
    node1, node4 = cell(x, earlier[index], wn, wu, wc)
    assert node1.shape == node4.shape == (2, C, 2 * h, 2 * h)
    assert torch.isfinite(node1).all() and torch.isfinite(node4).all()
    # node 1 is the first up edge's output alone
    torch.testing.assert_close(node1, cell.up[0](x, wu[0]))


# ---------------------------------------------------------------------------------------------------------------------
# The supernet generator
# ---------------------------------------------------------------------------------------------------------------------
def _supernet(relaxation="softmax", **kw):
    torch.manual_seed(0)
    return AlphaGANGenerator(channels=C, dim_z=Z, relaxation=relaxation, **kw)


@pytest.mark.parametrize("bottom_width", [1, 2])
def test_supernet_output_and_alpha_shapes(bottom_width):
    G = _supernet(bottom_width=bottom_width)
    assert G.is_supernet
    assert G.alpha_normal.shape == (len(normal_edge_names()), len(NORMAL_OPS)) == (9, 6)
    assert G.alpha_up.shape == (len(up_edge_names()), len(UP_OPS)) == (9, 3)
    arch = {id(p) for p in G.arch_parameters()}
    assert arch == {id(G.alpha_normal), id(G.alpha_up)}
    assert not arch & {id(p) for p in G.weight_parameters()}
    assert len(G.weight_parameters()) + 2 == len(list(G.parameters()))
    y = G(_x(3, Z))
    assert y.shape == (3, 3, 8 * bottom_width, 8 * bottom_width) and G.resolution == 8 * bottom_width
    assert torch.isfinite(y).all() and y.abs().max() <= 1
    with pytest.raises(ValueError, match="N×8"):
        G(_x(3, Z + 1))


@pytest.mark.parametrize("relaxation", ["softmax", "gumbel"])
def test_gradient_reaches_every_alpha_row(relaxation):
    G = _supernet(relaxation)
    rng = torch.Generator().manual_seed(3) if relaxation == "gumbel" else None
    loss = G(_x(2, Z), gumbel_rng=rng).square().mean()
    loss.backward()
    for alpha in (G.alpha_normal, G.alpha_up):
        assert alpha.grad is not None and torch.isfinite(alpha.grad).all()
        assert (alpha.grad.abs().sum(dim=1) > 0).all()  # every one of the 9 + 9 edges is used


def _one_hot_weights(genotype):
    wn = torch.zeros(9, len(NORMAL_OPS))
    wu = torch.zeros(9, len(UP_OPS))
    for i, op in enumerate(genotype.normal_ops()):
        wn[i, NORMAL_OPS.index(op)] = 1.0
    for i, op in enumerate(genotype.up_ops()):
        wu[i, UP_OPS.index(op)] = 1.0
    return wn, wu


def _copy_chosen_ops(supernet, plain, genotype):
    """Load the supernet's weights of the genotype's ops into the plain network, edge by edge."""
    plain.l1.load_state_dict(supernet.l1.state_dict())
    plain.to_rgb.load_state_dict(supernet.to_rgb.state_dict())
    for sc, pc in zip(supernet.cells, plain.cells):
        for kind, names in (("normal", NORMAL_OPS), ("up", UP_OPS), ("cross", UP_OPS)):
            for s_edge, p_edge in zip(getattr(sc, kind), getattr(pc, kind)):
                assert len(p_edge.ops) == 1
                p_edge.ops[0].load_state_dict(s_edge.ops[names.index(p_edge.names[0])].state_dict())


@pytest.mark.parametrize("genotype", [PUBLISHED["alphagan_s"], PUBLISHED["alphagan_l"], random_genotype(0),
                                      random_genotype(1)], ids=["alphagan_s", "alphagan_l", "random0", "random1"])
def test_supernet_with_one_hot_weights_is_the_plain_network(genotype):
    """Eq. (7) with one-hot rows: the mixed supernet is exactly the plain network of those choices."""
    sup = _supernet()
    plain = AlphaGANGenerator(channels=C, dim_z=Z, genotype=genotype, affine=False)
    assert not plain.is_supernet and plain.arch_parameters() == []
    assert count_params(plain) < count_params(sup)
    _copy_chosen_ops(sup, plain, genotype)
    z = _x(3, Z)
    out_sup = sup(z, weights=_one_hot_weights(genotype))
    out_plain = plain(z)
    torch.testing.assert_close(out_sup, out_plain, rtol=0, atol=1e-6)
    # and the genotype network's edges hold the genotype's ops, in α-row order
    names_normal = [e.names[0] for c in plain.cells for e in c.normal]
    names_up = [e.names[0] for c in plain.cells for e in c.up] + [c.cross[i].names[0] for c in plain.cells
                                                                  for i in range(len(c.cross))]
    assert names_normal == genotype.normal_ops() and names_up == genotype.up_ops()
    with pytest.raises(ValueError, match="no architecture parameters"):
        plain.edge_weights()


def test_forward_without_weights_uses_the_softmax_of_alpha():
    G = _supernet()
    with torch.no_grad():
        G.alpha_normal.normal_(0, 2)
        G.alpha_up.normal_(0, 2)
    G.eval()  # running BN stats: both calls see the same normalisation
    z = _x(2, Z)
    explicit = G(z, weights=(F.softmax(G.alpha_normal, -1), F.softmax(G.alpha_up, -1)))
    torch.testing.assert_close(G(z), explicit, rtol=0, atol=0)


# ---- Gumbel-softmax (eq. 8) ------------------------------------------------------------------------------------------
def _seeded(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_gumbel_weights_match_the_formula(tau):
    G = _supernet("gumbel", tau=tau)
    wn, wu = G.edge_weights(gumbel_rng=_seeded(5))
    ref_rng = _seeded(5)
    for w, alpha in ((wn, G.alpha_normal), (wu, G.alpha_up)):
        u = torch.rand(alpha.shape, generator=ref_rng).clamp(1e-10, 1 - 1e-10)
        g = -torch.log(-torch.log(u))
        torch.testing.assert_close(w, torch.exp((alpha + g) / tau) / torch.exp((alpha + g) / tau).sum(-1, keepdim=True))


def test_gumbel_weights_are_seeded_and_normalised():
    G = _supernet("gumbel")
    a = G.edge_weights(gumbel_rng=_seeded(0))
    b = G.edge_weights(gumbel_rng=_seeded(0))
    c = G.edge_weights(gumbel_rng=_seeded(1))
    for x, y, w in zip(a, b, c):
        assert torch.equal(x, y)
        assert not torch.allclose(x, w)
        torch.testing.assert_close(x.sum(-1), torch.ones(len(x)))
        assert (x >= 0).all()
    # Noise moves the weights far from the near-uniform softmax of α ≈ 0
    assert (a[0].max(-1).values > 1 / 6 + 0.05).any()
    # Without a generator (e.g. sampling), the plain softmax
    plain = G.edge_weights()
    torch.testing.assert_close(plain[0], F.softmax(G.alpha_normal, -1), rtol=0, atol=0)
    torch.testing.assert_close(plain[1], F.softmax(G.alpha_up, -1), rtol=0, atol=0)


def test_softmax_relaxation_ignores_the_generator():
    G = _supernet("softmax")
    wn, wu = G.edge_weights(gumbel_rng=_seeded(0))
    torch.testing.assert_close(wn, F.softmax(G.alpha_normal, -1), rtol=0, atol=0)
    torch.testing.assert_close(wu, F.softmax(G.alpha_up, -1), rtol=0, atol=0)


def test_gumbel_forward_is_reproducible_per_generator():
    G = _supernet("gumbel")
    G.eval()
    z = _x(2, Z)
    with torch.no_grad():
        a, b, c = G(z, gumbel_rng=_seeded(7)), G(z, gumbel_rng=_seeded(7)), G(z, gumbel_rng=_seeded(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_unknown_relaxation_is_rejected():
    with pytest.raises(ValueError, match="gumbel"):
        AlphaGANGenerator(channels=C, dim_z=Z, relaxation="hard")


# ---------------------------------------------------------------------------------------------------------------------
# Published genotypes: Table 2's parameters and FLOPs at the paper's width
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,bottom_width,params", [("alphagan_s", 4, 2.953e6), ("alphagan_l", 4, 8.618e6),
                                                      ("alphagan_s", 6, 3.613e6), ("alphagan_l", 6, 9.279e6)])
def test_published_parameter_counts(name, bottom_width, params):
    G = AlphaGANGenerator(channels=256, dim_z=128, bottom_width=bottom_width, genotype=PUBLISHED[name])
    assert count_params(G) == _numel(G)
    assert math.isclose(count_params(G), params, rel_tol=1e-3)


@pytest.mark.parametrize("name,gflops", [("alphagan_s", 1.32), ("alphagan_l", 2.78)])
def test_published_flops_in_the_paper_convention(name, gflops):
    G = AlphaGANGenerator(channels=256, dim_z=128, bottom_width=4, genotype=PUBLISHED[name])
    flops = count_flops(G)
    assert set(flops) == {"macs", "paper"}
    assert math.isclose(flops["paper"] / 1e9, gflops, rel_tol=1e-2)
    assert flops["macs"] < flops["paper"]  # the paper counts each deconv 4× (per output pixel)
    assert G.training  # the counter restores the mode


class _Toy(nn.Module):
    """A "generator" for count_flops: z (dim_z = C·H·W) viewed as C×H×W, then ``body``."""

    def __init__(self, body, c, h, w):
        super().__init__()
        self.dim_z, self.shape, self.body = c * h * w, (c, h, w), body

    def forward(self, z):
        return self.body(z.view(-1, *self.shape))


@pytest.mark.parametrize("c,h,w", [(4, 3, 5), (8, 2, 2)])
def test_count_flops_deconv_conventions(c, h, w):
    """One ConvTranspose2d(C, C, 2, stride 2) on H×W: H·W·C·C·4 true MACs; the paper's counter takes 4× that."""
    flops = count_flops(_Toy(nn.ConvTranspose2d(c, c, 2, stride=2), c, h, w))
    assert flops["macs"] == h * w * c * c * 4
    assert flops["paper"] == 4 * h * w * c * c * 4
    # the ×4 edge's deconv applied twice: H×W then 2H×2W inputs
    flops2 = count_flops(_Toy(UpOp(name="deconv", channels=c, times=2), c, h, w))
    assert flops2["macs"] == (h * w + 4 * h * w) * c * c * 4
    assert flops2["paper"] == 4 * flops2["macs"]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_count_flops_conv_and_linear_are_the_same_in_both(k):
    c, h, w = 4, 3, 5
    flops = count_flops(_Toy(nn.Conv2d(c, 2 * c, k, padding=k // 2), c, h, w))
    assert flops["macs"] == flops["paper"] == h * w * 2 * c * c * k * k
    dw = count_flops(_Toy(nn.Conv2d(c, c, k, padding=k // 2, groups=c), c, h, w))
    assert dw["macs"] == dw["paper"] == h * w * c * k * k  # depthwise: one input channel per output
    lin = count_flops(_Toy(nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 7)), c, h, w))
    assert lin["macs"] == lin["paper"] == c * h * w * 7


def test_count_flops_of_a_tiny_plain_generator_by_hand():
    """alphaGAN(s) at C = 4, bottom 1: every layer counted independently from the genotype."""
    g = PUBLISHED["alphagan_s"]
    c, z = C, Z
    G = AlphaGANGenerator(channels=c, dim_z=z, bottom_width=1, genotype=g)
    macs = paper = z * c  # linear z → C×1×1
    res_in = {1: 1, 2: 2, 3: 4}

    def up_cost(op, s_in, times=1):
        m = p = 0
        for t in range(times):
            if op == "deconv":
                n_in = (s_in * 2 ** t) ** 2
                m, p = m + n_in * c * c * 4, p + 4 * n_in * c * c * 4
        return m, p

    def normal_cost(op, s):
        k = int(op.rsplit("_", 1)[1][0])
        n = s * s * (c * c * k * k if op.startswith("conv") else 2 * (c * k * k + c * c))
        return n, n

    for i, cell in enumerate(("cell1", "cell2", "cell3")):
        s = res_in[i + 1]
        for op in g.up[i]:
            m, p = up_cost(op, s)
            macs, paper = macs + m, paper + p
        for op in g.normal[i]:
            m, p = normal_cost(op, 2 * s)
            macs, paper = macs + m, paper + p
    for op, s_in, times in zip(g.cross, (res_in[1] * 2, res_in[1] * 2, res_in[2] * 2), (1, 2, 1)):
        m, p = up_cost(op, s_in, times)  # from node 1 of the source cell
        macs, paper = macs + m, paper + p
    macs += 8 * 8 * c * 3 * 9  # to_rgb conv 3×3 → 3 channels
    paper += 8 * 8 * c * 3 * 9
    assert count_flops(G) == {"macs": macs, "paper": paper}


# ---------------------------------------------------------------------------------------------------------------------
# The discriminator
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [32, 48])
@pytest.mark.parametrize("searchable", [False, True])
def test_discriminator_scores(resolution, searchable):
    torch.manual_seed(0)
    D = AlphaGANDiscriminator(channels=8, resolution=resolution, searchable=searchable)
    x = _x(3, 3, resolution, resolution)
    y = D(x)
    assert y.shape == (3,)
    assert torch.isfinite(y).all()
    with pytest.raises(ValueError, match=f"{resolution}×{resolution}"):
        D(_x(3, 3, resolution + 8, resolution + 8))
    if searchable:
        assert D.alpha_d.shape == (8, len(D_OPS))
        assert D.arch_parameters() == [D.alpha_d]
    else:
        assert D.arch_parameters() == [] and not hasattr(D, "alpha_d")
    assert len(D.weight_parameters()) + len(D.arch_parameters()) == len(list(D.parameters()))


def test_searchable_discriminator_alpha_receives_gradient():
    torch.manual_seed(0)
    D = AlphaGANDiscriminator(channels=8, resolution=32, searchable=True)
    D(_x(2, 3, 32, 32)).square().mean().backward()
    g = D.alpha_d.grad
    assert g is not None and torch.isfinite(g).all()
    assert (g.abs().sum(dim=1) > 0).all()  # all eight mixed convs are used


def test_searchable_discriminator_one_hot_weights_select_convs():
    """With one-hot weights on the 1×1 conv everywhere, the mixed D equals D with only those convs' weights mattering:
    perturbing the unselected 3×3 / 5×5 convs changes nothing."""
    torch.manual_seed(0)
    D = AlphaGANDiscriminator(channels=8, resolution=32, searchable=True)
    D.eval()
    w = F.one_hot(torch.zeros(8, dtype=torch.long), len(D_OPS)).float()
    x = _x(2, 3, 32, 32)
    with torch.no_grad():
        before = D(x, weights=w)
        for block in D.blocks:
            for edge in (block.conv1, block.conv2):
                for op in edge.ops[1:]:
                    for p in op.parameters():
                        p.add_(1.0)
        after = D(x, weights=w)
    torch.testing.assert_close(before, after, rtol=0, atol=0)


def test_derive_d_ops_is_the_argmax():
    alpha = torch.zeros(8, 3)
    picks = [0, 1, 2, 2, 1, 0, 1, 2]
    alpha[torch.arange(8), torch.tensor(picks)] = 1.0
    assert derive_d_ops(alpha) == [D_OPS[i] for i in picks]

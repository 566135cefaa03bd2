"""DGGAN's growable nets (gancore.models.dggan): the 25 actions, nets rebuilt from a spec, the fade-in of a grow
action, and weight inheritance by name."""
import json

import pytest
import torch

from gancore.errors import ConfigError
from gancore.models.dggan import (FILTERS, KERNELS, Action, ArchSpec, action_space, base_spec, build, inherit)
from gancore.nn import downsample2x, upsample2x

Z = 16


def _spec(**kw):
    return base_spec(latent_dim=Z, max_resolution=32, fmap_base=64, fmap_max=32, **kw)


def _nets(spec, seed=0):
    torch.manual_seed(seed)
    return build(spec)


def test_action_space_has_the_papers_25_actions():
    actions = action_space()
    assert len(actions) == 2 * len(KERNELS) * len(FILTERS) + 1 == 25
    assert len({a.name for a in actions}) == 25
    assert all(Action.parse(a.name) == a for a in actions)


@pytest.mark.parametrize("name,needle", [("g_k5_f64", "kernel 5"), ("d_k3_f48", "filters 48"), ("grows", "unknown"),
                                         ("x_k3_f64", "unknown")])
def test_bad_action_names_are_clear_errors(name, needle):
    with pytest.raises(ConfigError, match=needle) as e:
        Action.parse(name)
    assert "grow" in str(e.value) and "[3, 7]" in str(e.value)


def test_base_nets_at_d0_8():
    spec = _spec()
    G, D = _nets(spec)
    assert spec.resolution == 8
    x = G(torch.randn(4, Z))
    assert x.shape == (4, 3, 8, 8) and torch.isfinite(x).all()
    s = D(x)
    assert s.shape == (4,) and torch.isfinite(s).all()


def _walk(spec, names):
    for n in names:
        spec = spec.child(Action.parse(n))
    return spec


ROUTES = [["g_k3_f64"], ["d_k7_f32"], ["grow"], ["g_k7_f32", "grow", "d_k3_f64"], ["grow", "grow", "g_k3_f32"],
          ["d_k3_f32", "d_k7_f64", "grow", "g_k7_f64", "g_k3_f32"]]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: "+".join(r))
def test_every_child_builds_and_runs(route):
    spec = _walk(_spec(), route)
    G, D = _nets(spec)
    res = 8 * 2 ** route.count("grow")
    assert spec.resolution == res and list(spec.history) == route
    for alpha in (0.0, 0.3, 1.0):
        x = G(torch.randn(4, Z), alpha=alpha)
        assert x.shape == (4, 3, res, res) and torch.isfinite(x).all()
        s = D(x, alpha=alpha)
        assert s.shape == (4,) and torch.isfinite(s).all()
    n_g, n_d = spec.num_layers()
    assert n_g == 3 + 2 * route.count("grow") + sum(r.startswith("g_") for r in route)
    assert n_d == 2 + 2 * route.count("grow") + sum(r.startswith("d_") for r in route)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: "+".join(r))
def test_inherited_tensors_equal_the_parents(route):
    parent_spec = _walk(_spec(), route[:-1])
    child_spec = parent_spec.child(Action.parse(route[-1]))
    Gp, Dp = _nets(parent_spec, seed=1)
    Gc, Dc = _nets(child_spec, seed=2)
    for child, parent in ((Gc, Gp), (Dc, Dp)):
        report = inherit(child, parent)
        ps, cs = parent.state_dict(), child.state_dict()
        for name, how in report.items():
            if how == "copied":
                assert torch.equal(cs[name], ps[name]), name
            elif how == "sliced":  # only the neighbour whose input width the new layer changed
                region = tuple(slice(0, min(a, b)) for a, b in zip(ps[name].shape, cs[name].shape))
                assert torch.equal(cs[name][region], ps[name][region]), name
                assert "to_rgb" in name or name.startswith("convs.d")
            else:
                assert name not in ps or ps[name].dim() != cs[name].dim(), name
        # every parent tensor is used by the child: growth never drops a layer
        assert set(ps) <= set(cs)
    new = {n for n, how in {**inherit(Gc, Gp), **inherit(Dc, Dp)}.items() if how == "new"}
    if route[-1] == "grow":
        r2 = child_spec.resolution
        assert new and all(str(r2) in n for n in new)
    else:
        assert len(new) == 2  # the new conv's weight and bias


def test_a_grow_child_at_alpha_0_is_its_parent():
    """ProGAN's fade-in: before the new block has any weight, the grown G draws the parent's images upsampled and the
    grown D scores an image like the parent scores its downsampled version."""
    parent_spec = _walk(_spec(), ["g_k3_f32", "d_k7_f64"])
    Gp, Dp = _nets(parent_spec, seed=1)
    child_spec = parent_spec.child(Action("grow"))
    Gc, Dc = _nets(child_spec, seed=2)
    inherit(Gc, Gp)
    inherit(Dc, Dp)
    z = torch.randn(4, Z)
    torch.testing.assert_close(Gc(z, alpha=0.0), upsample2x(Gp(z)))
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(Dc(x, alpha=0.0), Dp(downsample2x(x)))
    assert not torch.allclose(Gc(z, alpha=1.0), upsample2x(Gp(z)))


def test_growth_positions():
    """G grows just before its last convolution (toRGB), D just after its first (fromRGB)."""
    spec = _walk(_spec(), ["g_k3_f64", "d_k7_f32"])
    assert spec.g[-1].name == "g8.x0" and spec.g[-1].kernel == 3 and spec.g[-1].filters == 64
    assert spec.d[0].name == "d8.x0" and spec.d[0].kernel == 7
    G, _ = _nets(spec)
    assert G.to_rgb["8"].in_channels == 64


def test_spec_round_trip_and_max_resolution():
    spec = _walk(_spec(), ["grow", "g_k7_f32", "d_k3_f64"])
    again = ArchSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    G1, D1 = _nets(spec, seed=3)
    G2, D2 = _nets(again, seed=3)
    z = torch.randn(4, Z)
    torch.testing.assert_close(G1(z), G2(z))
    top = _walk(_spec(), ["grow", "grow"])
    assert top.resolution == 32 and not top.can_apply(Action("grow"))
    with pytest.raises(ConfigError, match="max_resolution"):
        top.child(Action("grow"))
    with pytest.raises(ConfigError, match="format"):
        ArchSpec.from_dict({"g": []})


def test_new_layer_names_are_never_reused():
    spec = _walk(_spec(), ["g_k3_f32", "g_k3_f32", "d_k3_f32", "d_k7_f32"])
    names = [l.name for l in spec.g + spec.d]
    assert len(names) == len(set(names))

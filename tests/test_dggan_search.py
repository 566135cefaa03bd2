"""DGGAN's Alg. 1 pieces (gancore.search.dggan): hash coin flips, child sampling, forced grow, normalized-FID
ranking. The children and the survivors must not depend on the order in which candidates finish."""
import math
import random

import pytest

from gancore.errors import ConfigError
from gancore.models.dggan import Action, action_space, base_spec
from gancore.search.dggan import coin, normalized_fid, sample_children, top_k


def _parents(n=3):
    base = base_spec(latent_dim=8, max_resolution=32, fmap_base=64, fmap_max=32)
    out, spec = [], base
    for i in range(n):
        out.append((f"p{i}", spec))
        spec = spec.child(Action("G", 3, 32))
    return out


def test_coin_is_a_pure_function_of_its_key():
    a = coin(seed=1, step=2, parent="p0", action="grow")
    assert a == coin(seed=1, step=2, parent="p0", action="grow") and 0 <= a < 1
    others = {coin(seed=s, step=t, parent=p, action=x) for s in (1, 2) for t in (2, 3) for p in ("p0", "p1")
              for x in ("grow", "g_k3_f32")}
    assert len(others) == 16  # every part of the key matters


def test_coins_are_uniform():
    draws = [coin(seed=0, step=0, parent=f"p{i}", action="grow") for i in range(4000)]
    assert abs(sum(draws) / len(draws) - 0.5) < 0.02
    assert abs(sum(d < 0.2 for d in draws) / len(draws) - 0.2) < 0.02


@pytest.mark.parametrize("p", [0.2, 0.4, 1.0])
def test_sampling_is_the_same_in_any_order(p):
    parents, actions = _parents(), action_space()
    ref = sample_children(parents, actions, p=p, seed=7, step=3)
    shuffled = parents[:]
    random.Random(0).shuffle(shuffled)
    again = sample_children(shuffled, actions, p=p, seed=7, step=3)
    assert sorted(c.id for c in again) == sorted(c.id for c in ref)
    if p == 1.0:
        assert len(ref) == len(parents) * len(actions)
    expected = sum(coin(seed=7, step=3, parent=pid, action=a.name) < p for pid, _ in parents for a in actions)
    assert len(ref) == expected
    for c in ref:
        assert c.id == f"{c.parent}+{c.action}" and list(c.spec.history)[-1] == c.action


def test_force_grow_adds_the_best_parents_grow_child():
    parents = _parents()
    actions = [Action("G", 3, 32), Action("grow")]
    for seed in range(200):  # a seed at which no grow child is drawn at small p
        drawn = sample_children(parents, actions, p=0.05, seed=seed, step=0)
        if not any(c.action == "grow" for c in drawn):
            break
    forced = sample_children(parents, actions, p=0.05, seed=seed, step=0, force_grow=True)
    grows = [c for c in forced if c.action == "grow"]
    assert len(grows) == 1 and grows[0].parent == "p0" and grows[0].spec.resolution == 16
    assert [c.id for c in forced if c.action != "grow"] == [c.id for c in drawn]


def test_grow_is_not_sampled_past_the_maximum_resolution():
    top = base_spec(latent_dim=8, max_resolution=16, fmap_base=64, fmap_max=32).child(Action("grow"))
    kids = sample_children([("t", top)], action_space(), p=1.0, seed=0, step=0, force_grow=True)
    assert not any(c.action == "grow" for c in kids) and len(kids) == 24


def test_top_k_by_normalized_fid_mixes_resolutions_fairly():
    baseline = {8: 4.0, 16: 12.0, 32: 18.0}
    raw = {"a": (8, 3.0), "b": (16, 6.0), "c": (32, 17.0), "d": (16, float("nan")), "e": (8, None)}
    scores = [(cid, None if f is None else normalized_fid(f, resolution=r, baseline=baseline))
              for cid, (r, f) in raw.items()]
    # b (0.5) beats a (0.75) although its raw FID is higher; failed candidates never survive
    assert top_k(scores, k=2) == ["b", "a"]
    assert top_k(list(reversed(scores)), k=2) == ["b", "a"]
    assert top_k(scores, k=10) == ["b", "a", "c"]
    with pytest.raises(KeyError, match="baseline"):
        normalized_fid(1.0, resolution=64, baseline=baseline)


@pytest.mark.parametrize("bad", [dict(p=0.0), dict(p=1.5), dict(p=math.nan)])
def test_bad_p_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="sample_p"):
        sample_children(_parents(1), action_space(), seed=0, step=0, **bad)


def test_bad_k_is_a_clear_error():
    with pytest.raises(ConfigError, match="top_k"):
        top_k([("a", 1.0)], k=0)

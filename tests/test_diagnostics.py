"""The critic probe: degradations against independent computations, scores against a hand-computed linear critic,
and the behaviour it exists to show (a sharpness-sensitive critic ranks blurred reals below reals)."""
import pytest
import torch

from gancore.diagnostics import critic_probe, degradations


def _images(n=4, size=8, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_degradations_keep_shape_and_match_independent_computation():
    x = _images()
    out = degradations(x, noise_std=0.2, seed=3)
    assert list(out) == ["real", "blur 3×3", "one octave lost", "noise σ=0.2"]
    assert all(v.shape == x.shape for v in out.values())
    # 3×3 box blur with replicated borders, by explicit neighbour sums.
    n, c, h, w = x.shape
    blur = torch.zeros_like(x)
    for i in range(h):
        for j in range(w):
            rows = [min(max(i + di, 0), h - 1) for di in (-1, 0, 1)]
            cols = [min(max(j + dj, 0), w - 1) for dj in (-1, 0, 1)]
            blur[:, :, i, j] = sum(x[:, :, r, q] for r in rows for q in cols) / 9
    torch.testing.assert_close(out["blur 3×3"], blur)
    # One octave lost: every 2×2 block replaced by its mean.
    octave = x.reshape(n, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5)).repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(out["one octave lost"], octave)
    noise = out["noise σ=0.2"] - x
    assert 0.15 < noise.std().item() < 0.25
    torch.testing.assert_close(degradations(x, noise_std=0.2, seed=3)["noise σ=0.2"], out["noise σ=0.2"])


def test_degradations_leave_flat_images_unchanged_except_noise():
    x = torch.full((2, 3, 4, 4), 0.3)
    out = degradations(x, noise_std=0.0)
    for v in out.values():
        torch.testing.assert_close(v, x)


@pytest.mark.parametrize("batch_size", [1, 3, 256])
def test_probe_scores_equal_a_hand_computed_linear_critic(batch_size):
    x, fakes = _images(6), _images(5, seed=1)
    w = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(2))
    critic = lambda t: (t * w).sum(dim=(1, 2, 3))  # noqa: E731
    rows = {r["input"]: r for r in critic_probe(critic, x, fakes, seed=4, batch_size=batch_size)}
    sets = {**degradations(x, seed=4), "generator samples": fakes}
    assert set(rows) == set(sets)
    real = (x * w).sum(dim=(1, 2, 3)).mean().item()
    for name, imgs in sets.items():
        s = (imgs * w).sum(dim=(1, 2, 3))
        assert rows[name]["mean score"] == pytest.approx(s.mean().item(), rel=1e-5, abs=1e-5)
        assert rows[name]["std"] == pytest.approx(s.std(correction=0).item(), rel=1e-5, abs=1e-5)
        assert rows[name]["gap to reals"] == pytest.approx(s.mean().item() - real, rel=1e-5, abs=1e-5)
    assert rows["real"]["gap to reals"] == 0.0


def test_a_sharpness_critic_ranks_blurred_reals_below_reals():
    # Scores = mean squared difference of horizontal neighbours: high for sharp edges, lower once blurred.
    x = torch.zeros(8, 3, 16, 16)
    x[:, :, 4:12, 4:12] = 1.0  # a sharp square
    x = x * 2 - 1
    critic = lambda t: (t[..., 1:] - t[..., :-1]).square().mean(dim=(1, 2, 3))  # noqa: E731
    rows = {r["input"]: r["gap to reals"] for r in critic_probe(critic, x, torch.zeros_like(x), noise_std=0.0)}
    assert rows["blur 3×3"] < 0 and rows["one octave lost"] <= 0
    assert rows["generator samples"] < rows["blur 3×3"]  # flat grey fakes have no edges at all


@pytest.mark.parametrize("bad, match", [
    (torch.rand(3, 8, 8), "N×C×H×W"),
    (torch.zeros(0, 3, 8, 8), "non-empty"),
    (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), "float images"),
    (torch.rand(2, 3, 7, 7), "even height and width"),
])
def test_degradations_reject_bad_batches(bad, match):
    with pytest.raises(ValueError, match=match):
        degradations(bad)


def test_probe_rejects_mismatched_fakes_and_bad_critics():
    x = _images()
    with pytest.raises(ValueError, match="per image"):
        critic_probe(lambda t: t.sum(dim=(1, 2, 3)), x, _images(size=4))
    with pytest.raises(ValueError, match="one each"):
        critic_probe(lambda t: t.sum(), x, x)
    with pytest.raises(ValueError, match="batch_size"):
        critic_probe(lambda t: t.sum(dim=(1, 2, 3)), x, x, batch_size=0)


def test_progan_critic_probe_on_a_trained_run(tiny_progan_overrides):
    from gancore.recipes import progan

    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    run = progan.run(cfg, progress=False, evaluate=False)
    rows = progan.critic_probe(run, n=8)
    assert [r["input"] for r in rows] == ["real", "blur 3×3", "one octave lost", "noise σ=0.1", "generator samples"]
    assert all(torch.isfinite(torch.tensor([r["mean score"], r["std"], r["gap to reals"]])).all() for r in rows)
    assert run.method.D.training  # the probe restores D's mode


def test_progan_critic_probe_refuses_a_dry_run(tiny_progan_overrides):
    from gancore.recipes import progan

    cfg = progan.load_config(scale="smoke", dry_run=True, **tiny_progan_overrides)
    with pytest.raises(ValueError, match="dry run"):
        progan.critic_probe(progan.run(cfg, progress=False), n=8)

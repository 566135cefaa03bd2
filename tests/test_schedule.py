import pytest

from gancore.schedule import fixed_schedule, progressive_schedule, schedule_curve


def _celeba():
    batches = {4: 16, 8: 16, 16: 16, 32: 16, 64: 16, 128: 16, 256: 14, 512: 6, 1024: 3}
    return progressive_schedule(start_resolution=4, resolution=1024, stabilize_kimg=600, fade_kimg=600,
                                batch_sizes=batches, default_batch=16)


def test_progressive_schedule_matches_app_a1():
    s = _celeba()
    names = [p.name for p in s.phases]
    assert names[:4] == ["stab4", "fade8", "stab8", "fade16"] and names[-1] == "stab1024"
    assert s.phases[0].end_nimg == 600_000 and s.phases[1].end_nimg == 1_200_000
    assert s.phases[-1].end_nimg is None  # open-ended at the top resolution
    assert {p.resolution: p.batch_size for p in s.phases}[1024] == 3
    assert s.natural_end_nimg == 600_000 + 8 * 1_200_000


@pytest.mark.parametrize("nimg,res,alpha", [(0, 4, 1.0), (599_999, 4, 1.0), (600_000, 8, 0.0), (900_000, 8, 0.5),
                                            (1_200_000, 8, 1.0), (1_500_000, 8, 1.0), (2_100_000, 16, 0.5), (99_000_000, 1024, 1.0)])
def test_alpha_is_linear_during_fades(nimg, res, alpha):
    phase, a = _celeba().at(nimg)
    assert phase.resolution == res and a == pytest.approx(alpha)


def test_growth_points_and_curve():
    s = progressive_schedule(start_resolution=4, resolution=16, stabilize_kimg=1, fade_kimg=1, batch_sizes={},
                             default_batch=8)
    assert s.growth_points_kimg() == [1.0, 3.0]
    curve = schedule_curve(s, points=10)
    assert curve[0]["alpha"] == 1.0 and min(r["alpha"] for r in curve) == 0.0
    assert max(r["resolution"] for r in curve) == 16


def test_fixed_schedule_and_errors():
    s = fixed_schedule(resolution=32, batch_size=64, kimg=10)
    phase, alpha = s.at(123_456)
    assert (phase.resolution, phase.batch_size, alpha, s.natural_end_nimg) == (32, 64, 1.0, 10_000)
    with pytest.raises(ValueError, match="exceeds"):
        progressive_schedule(start_resolution=32, resolution=16, stabilize_kimg=1, fade_kimg=1, batch_sizes={},
                             default_batch=8)

import pytest
import torch

from gancore import losses


def _critic():
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 4)
    return lambda x: torch.tanh(x.flatten(1) @ w) * (x.flatten(1) ** 2).sum(1)


@pytest.mark.parametrize("gamma", [1.0, 750.0])
def test_gradient_penalty_matches_manual_computation(gamma):
    critic = _critic()
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gen = torch.Generator().manual_seed(3)
    got = losses.gradient_penalty(critic, real, fake, gamma=gamma, generator=gen)
    eps = torch.rand(5, 1, 1, 1, generator=torch.Generator().manual_seed(3))
    expected = []
    for i in range(5):  # one sample at a time: an independent computation of the per-sample gradient norm
        x = (real[i] + eps[i] * (fake[i] - real[i])).unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        expected.append(((g.norm() - gamma) / gamma) ** 2)
    assert torch.allclose(got, torch.stack(expected).mean(), rtol=1e-5)


def test_gradient_penalty_is_differentiable_wrt_critic_params():
    w = torch.randn(48, requires_grad=True)
    critic = lambda x: (x.flatten(1) @ w) ** 2  # noqa: E731
    gp = losses.gradient_penalty(critic, torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4))
    gp.backward()
    assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_wgan_losses_with_drift():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5])
    assert losses.wgan_d_loss(real, fake, drift=0.0).item() == pytest.approx(0.0 - 2.0)
    assert losses.wgan_d_loss(real, fake, drift=0.001).item() == pytest.approx(-2.0 + 0.001 * 5.0)
    assert losses.wgan_g_loss(fake).item() == pytest.approx(0.0)


def test_hinge_and_ns_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert losses.hinge_d_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert losses.hinge_g_loss(fake).item() == pytest.approx(1.0)
    sp = torch.nn.functional.softplus
    assert losses.ns_d_loss(real, fake).item() == pytest.approx((sp(-real).mean() + sp(fake).mean()).item())
    assert losses.ns_g_loss(fake).item() == pytest.approx(sp(-fake).mean().item())


def test_r1_penalty_of_quadratic_critic():
    critic = lambda x: 0.5 * (x.flatten(1) ** 2).sum(1)  # noqa: E731  gradient = x, so R1 = E‖x‖²
    x = torch.randn(6, 3, 2, 2)
    assert losses.r1_penalty(critic, x).item() == pytest.approx((x.flatten(1) ** 2).sum(1).mean().item(), rel=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (8, 2, 3, 3)])
def test_orthogonal_regularization_matches_loop(shape):
    w = torch.randn(*shape)
    m = w.flatten(1)
    expected = sum((m[i] @ m[j]) ** 2 for i in range(m.shape[0]) for j in range(m.shape[0]) if i != j)
    got = losses.orthogonal_regularization([w], beta=1e-4)
    assert got.item() == pytest.approx(1e-4 * float(expected), rel=1e-5)


def test_orthogonal_regularization_ignores_norms_of_orthogonal_rows():
    w = torch.diag(torch.tensor([1.0, 5.0, 9.0]))  # orthogonal rows with unequal norms: off-diagonal Gram is 0
    assert losses.orthogonal_regularization([w]).item() == 0.0

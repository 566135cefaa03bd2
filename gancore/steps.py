"""GAN updates shared by the papers: one place for each way of alternating D and G steps.

- :func:`wgan_gp_step`: ProGAN App. A.1 (``n_critic`` WGAN-GP critic steps with ε_drift, then one G step); DGGAN's
  candidates train with it too ("Implementation Details": ProGAN's settings for every candidate).
- :func:`accumulated_step`: BigGAN App. C (``d_steps`` D steps then one G step, each over ``accumulate``
  micro-batches), with §4.2's zero-centred R1 on the reals and an optional G regularizer (§3.1 orthogonal).
- :func:`alternating_step`: ``n_critic`` D steps then one G step with any D/G loss pair (alphaGAN's weight part and
  its retrain); :func:`joint_d_loss` scores reals and fakes in one D pass.

Each returns detached losses; under torch.distributed the gradients are averaged over ranks before every optimizer
step (:func:`gancore.distributed.all_reduce_grads`, a no-op on one process). A step draws its latents from the loop's
generator through ``latents(n, rng)``, so a resumed run draws the same ones.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from gancore import distributed, losses
from gancore.nn.gradfix import input_gradient_only

Loss = Callable[..., Tensor]


def joint_d_loss(D: nn.Module, d_loss: Loss, x: Tensor, fake: Tensor, *d_args: Tensor) -> Tensor:
    """D's loss from one pass over reals and fakes together (D has no BatchNorm, so the scores equal two passes;
    per-call overhead dominates small nets). ``d_args`` are D's further inputs, e.g. class labels of both halves."""
    scores = D(torch.cat([x, fake]), *d_args)
    return d_loss(scores[: len(x)], scores[len(x):])


def wgan_gp_step(*, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, reals,
                 latents, batch_size: int, rng: torch.Generator, n_critic: int, drift: float, gp_lambda: float,
                 gp_gamma: float, net_kwargs: dict[str, Any]) -> tuple[dict[str, Tensor], int]:
    """One G/D update of ProGAN App. A.1: ``n_critic`` WGAN-GP critic steps with ε_drift, then one G step.
    ``net_kwargs`` go to both nets (e.g. resolution and fade-in α)."""
    bs = batch_size
    critic = lambda x: D(x, **net_kwargs).float()  # noqa: E731  (fp32 losses under bf16)
    used = 0
    for _ in range(n_critic):  # App. A.2 row (a) uses 5 critic steps; ProGAN itself uses 1
        real, _ = reals(bs)
        used += bs
        with torch.no_grad():
            fake = G(latents(bs, rng), **net_kwargs)
        real_scores, fake_scores = critic(real), critic(fake)
        d_loss = losses.wgan_d_loss(real_scores, fake_scores, drift=drift)
        gp = losses.gradient_penalty(critic, real, fake, gamma=gp_gamma, generator=rng)
        opt_d.zero_grad(set_to_none=True)
        (d_loss + gp_lambda * gp).backward()
        distributed.all_reduce_grads(D)
        opt_d.step()
    D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
    g_loss = losses.wgan_g_loss(critic(G(latents(bs, rng), **net_kwargs)))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    distributed.all_reduce_grads(G)
    opt_g.step()
    D.requires_grad_(True)
    out = {"loss_d": d_loss.detach(), "loss_g": g_loss.detach(), "gp": gp.detach(),
           "d_real": real_scores.detach().mean()}
    return out, used


def accumulated_step(*, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                     reals, inputs, rng: torch.Generator, d_loss: Loss, g_loss: Loss, d_steps: int, micro_batch: int,
                     accumulate: int, r1_gamma: float = 0.0, g_penalty: Callable[[], Tensor] | None = None,
                     penalty_name: str = "g_penalty", device: torch.device) -> tuple[dict[str, Tensor], int]:
    """``d_steps`` D steps then one G step of a class-conditional GAN, each over ``accumulate`` micro-batches of
    ``micro_batch`` (BigGAN App. C). ``inputs(n, rng)`` draws (z, labels); ``r1_gamma`` > 0 adds (γ/2)·E‖∇ₓD(x)‖²
    on the reals (§4.2); ``g_penalty()`` is added once per G step (it must not depend on the batch) and logged as
    ``penalty_name``."""
    mb, k = micro_batch, accumulate
    used = 0
    zero = torch.zeros((), device=device)
    for _ in range(d_steps):
        opt_d.zero_grad(set_to_none=True)
        d_total, r1_total, real_mean, fake_mean = zero, zero, zero, zero
        for _ in range(k):
            x, y = reals(mb)
            used += mb
            z, y_fake = inputs(mb, rng)
            with torch.no_grad():
                fake = G(z, y_fake)
            if r1_gamma > 0:
                x = x.detach().requires_grad_(True)
            # One D pass over reals and fakes together (D has no BatchNorm, so the scores are the same as two
            # passes); per-call overhead dominates small nets, and this is what the official code does too.
            scores = D(torch.cat([x, fake.to(x.dtype)]), torch.cat([y, y_fake])).float()
            real_scores, fake_scores = scores[:mb], scores[mb:]
            loss = d_loss(real_scores, fake_scores)
            if r1_gamma > 0:  # from the same forward pass
                with input_gradient_only():  # only ∇ₓD: gradfix layers skip weight gradients here
                    (grad,) = torch.autograd.grad(real_scores.sum(), x, create_graph=True)
                r1 = grad.flatten(1).square().sum(1).mean()
                loss = loss + 0.5 * r1_gamma * r1
                r1_total = r1_total + r1.detach() / k
            (loss / k).backward()
            d_total = d_total + loss.detach() / k
            real_mean = real_mean + real_scores.detach().mean() / k
            fake_mean = fake_mean + fake_scores.detach().mean() / k
        distributed.all_reduce_grads(D)
        opt_d.step()
    D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
    opt_g.zero_grad(set_to_none=True)
    g_total = zero
    for _ in range(k):
        z, y_fake = inputs(mb, rng)
        loss = g_loss(D(G(z, y_fake), y_fake).float())
        (loss / k).backward()
        g_total = g_total + loss.detach() / k
    penalty = zero
    if g_penalty is not None:
        penalty = g_penalty()
        penalty.backward()
        penalty = penalty.detach()
    distributed.all_reduce_grads(G)
    opt_g.step()
    D.requires_grad_(True)
    out = {"loss_d": d_total, "loss_g": g_total, "d_real": real_mean, "d_fake": fake_mean, penalty_name: penalty}
    if r1_gamma > 0:
        out["r1"] = r1_total
    return out, used


def alternating_step(*, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                     reals, latents, rng: torch.Generator, d_loss: Loss, g_loss: Loss, n_critic: int, d_batch: int,
                     g_batch: int, g_kwargs: dict[str, Any] | None = None) -> tuple[list[Tensor], Tensor]:
    """``n_critic`` D steps on ``d_batch`` reals and fakes (one joint D pass each), then one G step on ``g_batch``
    latents; returns (each D step's loss, the G loss), detached. ``g_kwargs`` go to G (e.g. alphaGAN's Gumbel
    generator)."""
    d_losses = [d_step(G=G, D=D, opt_d=opt_d, reals=reals, latents=latents, rng=rng, d_loss=d_loss, batch=d_batch,
                       g_kwargs=g_kwargs) for _ in range(n_critic)]
    return d_losses, g_step(G=G, D=D, opt_g=opt_g, latents=latents, rng=rng, g_loss=g_loss, batch=g_batch,
                            g_kwargs=g_kwargs)


def d_step(*, G: nn.Module, D: nn.Module, opt_d: torch.optim.Optimizer, reals, latents, rng: torch.Generator,
           d_loss: Loss, batch: int, g_kwargs: dict[str, Any] | None = None) -> Tensor:
    """One D step on ``batch`` reals and as many fakes (one joint D pass); returns the loss, detached."""
    x = reals(batch)[0]
    with torch.no_grad():
        fake = G(latents(batch, rng), **(g_kwargs or {}))
    opt_d.zero_grad(set_to_none=True)
    loss_d = joint_d_loss(D, d_loss, x, fake)
    loss_d.backward()
    opt_d.step()
    return loss_d.detach()


def g_step(*, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, latents, rng: torch.Generator,
           g_loss: Loss, batch: int, g_kwargs: dict[str, Any] | None = None) -> Tensor:
    """One G step on ``batch`` latents through a D whose weights get no gradients; returns the loss, detached."""
    D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
    try:
        opt_g.zero_grad(set_to_none=True)
        loss_g = g_loss(D(G(latents(batch, rng), **(g_kwargs or {}))))
        loss_g.backward()
        opt_g.step()
    finally:
        D.requires_grad_(True)
    return loss_g.detach()

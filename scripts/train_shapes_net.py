"""Train the shipped ShapesNet feature extractor (gancore/metrics/weights/shapes_net.pt).

Reproducible: fixed seeds, deterministic algorithms and a fixed thread count. The training
pool is ``gancore.data.shapes`` rendered once at 8/16/32/64 px (12288 images each, resized to
the net's 32 px input), so the extractor scores every stage of a progressively grown
generator; light augmentation (flips/quarter turns, brightness/contrast jitter, occasional
blur, pixel noise) makes it robust to generator artefacts. Held-out accuracy is measured on a
different stream seed through the real inference path (uint8 at native resolution).

    python scripts/train_shapes_net.py     # ~1.5 min on 2 idle CPU cores (15 s of it rendering)

Writes the state_dict (float32) and a JSON file with the provenance: seeds, steps, held-out
accuracy per resolution, torch version, thread count, wall time, and a SHA-256 of the tensor
values (the .pt archive itself embeds its file name, so its bytes are not a stable digest).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from gancore.data.shapes import SHAPE_CLASSES, render_shapes  # noqa: E402
from gancore.metrics.shapes_net import WEIGHTS_PATH, ShapesNet  # noqa: E402

RESOLUTIONS = (8, 16, 32, 64)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=1200, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=128, help="images per step, drawn from all resolutions")
    p.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate (one-cycle schedule)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization and augmentation")
    p.add_argument("--train-images", type=int, default=12288, help="training images per resolution")
    p.add_argument("--train-seed", type=int, default=1000, help="shapes stream seed of the training images")
    p.add_argument("--eval-seed", type=int, default=2000, help="shapes stream seed of the held-out images")
    p.add_argument("--eval-images", type=int, default=2000, help="held-out images per resolution")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (results depend on it)")
    p.add_argument("--out", type=Path, default=WEIGHTS_PATH, help="output .pt; the .json goes next to it")
    return p.parse_args(argv)


def render_pool(n_per_resolution: int, seed: int, net: ShapesNet) -> tuple[torch.Tensor, torch.Tensor]:
    """Render every resolution once, resize to the net's 32 px input, store as uint8 (compact)."""
    images, labels = [], []
    for res in RESOLUTIONS:
        for start in range(0, n_per_resolution, 4096):
            batch, classes = render_shapes(min(4096, n_per_resolution - start), resolution=res, seed=seed, start=start)
            resized = (net.preprocess(batch) + 1.0) * 127.5
            images.append(resized.round().clamp(0, 255).to(torch.uint8))
            labels.append(classes)
    return torch.cat(images), torch.cat(labels)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """uint8 32 px batch → augmented float batch in [-1, 1]."""
    n = images.shape[0]
    x = images.float() / 127.5 - 1.0
    # Shapes are drawn at uniform random angles, so mirror images and quarter turns keep labels.
    x = torch.rot90(x, k=int(torch.randint(0, 4, (), generator=generator)), dims=(2, 3))
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    contrast = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=generator)
    brightness = 0.2 * (torch.rand(n, 1, 1, 1, generator=generator) - 0.5)
    x = x * contrast + brightness
    # Mild blur on a quarter of the batch mimics the soft output of an undertrained generator.
    blur = torch.rand(n, generator=generator) < 0.25
    soft = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)
    x = torch.where(blur.view(-1, 1, 1, 1), soft, x)
    # Per-pixel noise of random strength: generator outputs are rarely clean.
    sigma = 0.12 * torch.rand(n, 1, 1, 1, generator=generator)
    return (x + sigma * torch.randn(x.shape, generator=generator)).clamp(-1, 1)


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes, in key order."""
    h = hashlib.sha256()
    for key, value in state.items():
        h.update(f"{key}:{value.dtype}:{tuple(value.shape)}".encode())
        h.update(value.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


@torch.no_grad()
def held_out_accuracy(net: ShapesNet, *, seed: int, n: int) -> dict[str, float]:
    net.eval()
    out = {}
    for res in RESOLUTIONS:
        images, labels = render_shapes(n, resolution=res, seed=seed)
        preds = torch.cat([net(images[i : i + 500]).argmax(1) for i in range(0, n, 500)])
        out[str(res)] = float((preds == labels).float().mean())
    return out


def train(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    aug_gen = torch.Generator().manual_seed(args.seed + 1)

    net = ShapesNet(num_classes=len(SHAPE_CLASSES))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.15)
    start_time = time.time()
    # Rendering once (instead of per step) keeps the CPU on the network. Batches are drawn
    # from all resolutions at once, so BatchNorm's running statistics describe the mixture.
    pool, pool_labels = render_pool(args.train_images, args.train_seed, net)
    print(f"rendered {len(pool)} training images in {time.time() - start_time:.1f}s", flush=True)
    net.train()
    for step in range(args.steps):
        index = torch.randint(0, len(pool), (args.batch_size,), generator=aug_gen)
        loss = F.cross_entropy(net(augment(pool[index], aug_gen)), pool_labels[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.time() - start_time:6.1f}s", flush=True)
    train_seconds = time.time() - start_time

    accuracy = held_out_accuracy(net, seed=args.eval_seed, n=args.eval_images)
    print("held-out accuracy:", accuracy, flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".pt.tmp")
    torch.save(net.state_dict(), tmp)
    os.replace(tmp, args.out)  # atomic: a crash never leaves a half-written weights file
    digest = state_digest(net.state_dict())
    provenance = {
        "script": "scripts/train_shapes_net.py",
        "seed": args.seed,
        "train_seed": args.train_seed,
        "eval_seed": args.eval_seed,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "train_images_per_resolution": args.train_images,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "resolutions": list(RESOLUTIONS),
        "classes": list(SHAPE_CLASSES),
        "held_out_images_per_resolution": args.eval_images,
        "held_out_accuracy": accuracy,
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_seconds": round(train_seconds, 1),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "state_sha256": digest,
    }
    args.out.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n")
    return provenance


if __name__ == "__main__":
    train(parse_args())

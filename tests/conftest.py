"""Shared test setup.

Tests use tiny tensors, where one thread per pytest worker is much faster than two competing ones on the 2-core
CI machine (measured: 20× slower per step with oversubscribed threads under load). Subprocesses (papermill
kernels) inherit OMP_NUM_THREADS.
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def tiny_progan_overrides(tmp_path):
    """A ProGAN config small enough to train a few steps in about a second."""
    return dict(resolution=8, fmap_base=32, fmap_max=8, latent_dim=8, batch_sizes={}, batch_size=8,
                stabilize_kimg=0.016, fade_kimg=0.016, dataset_size=64, log_every_kimg=0.008,
                ckpt_every_kimg=0.032, sample_every_kimg=0.032, metrics_every_kimg=0.0,
                metric_num_images=32, final_num_images=64, out_dir=str(tmp_path / "run"))


def _controls_by_description(widget) -> dict:
    """Every descendant control of an ipywidgets tree, indexed by its description."""
    found, stack = {}, [widget]
    while stack:
        node = stack.pop()
        if getattr(node, "description", ""):
            found[node.description] = node
        stack.extend(getattr(node, "children", ()))
    return found


@pytest.fixture
def widget_controls():
    """``widget_controls(widget)`` → {description: control} for the widget tests."""
    return _controls_by_description

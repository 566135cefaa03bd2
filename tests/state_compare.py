"""Bitwise comparison of nested checkpoint state, shared by the resume tests (tests/ is on sys.path)."""
import torch


def assert_same_state(a, b, path="state"):
    """Every key, list entry, scalar and tensor (dtype, shape and bits) of ``a`` equals ``b``'s."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif torch.is_tensor(a):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), path
    else:
        assert a == b, path

"""Log keys of the spectral records (BigGAN §4.1, §4.2): ``sv/<net>/<layer>/<i>``; the scheme is described in
:mod:`gancore.metrics.spectral`."""
from __future__ import annotations

import re

_SV_KEY = re.compile(r"^sv/(?P<net>[^/]+)/(?P<layer>[^/]+)/(?P<index>\d+)$")


# ---------------------------------------------------------------------------------------------------------------------
# Log records
# ---------------------------------------------------------------------------------------------------------------------
def sv_key(net: str, layer: str, index: int) -> str:
    """Log key of σ_index of weight ``layer`` of ``net``: ``sv/G/linear.weight/0`` (module docstring)."""
    return f"sv/{net}/{layer}/{index}"


def parse_sv_key(key: str) -> tuple[str, str, int] | None:
    """``"sv/G/linear.weight/0"`` → ``("G", "linear.weight", 0)``; summary and non-sv keys → None."""
    match = _SV_KEY.match(key)
    return (match["net"], match["layer"], int(match["index"])) if match else None


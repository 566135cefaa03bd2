"""Network families, one module per paper (stylegan2-ada style): `progan` (ProGAN App. A, Table 2)."""
from __future__ import annotations

from gancore.models import progan

__all__ = ["progan"]

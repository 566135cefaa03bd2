"""gancore: a small engine behind the paper notebooks (ProGAN, BigGAN, DGGAN, alphaGAN)."""
from gancore import _moved

__version__ = "0.1.0"

_moved.install()  # old import paths (e.g. gancore.recipes.progan_config) keep working

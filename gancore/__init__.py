"""gancore: a small engine behind the paper notebooks (ProGAN, BigGAN, DGGAN, alphaGAN)."""
__version__ = "0.1.0"

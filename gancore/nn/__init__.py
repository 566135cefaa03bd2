"""Shared network layers of the four papers, one module per family, each named by the paper section that brings it:

- :mod:`.resample` — ProGAN App. A.1 up/down-sampling (2×2 replication / average pooling), parameter counts;
- :mod:`.fused_scale` — the authors' fused 2× upsample + convolution (one stride-2 transposed convolution);
- :mod:`.equalized` — ProGAN §4.1 equalized learning rate, §4.2 PixelNorm, the WGAN-GP critic's layer norm;
- :mod:`.minibatch` — ProGAN §3 minibatch stddev, Salimans et al.'s minibatch discrimination (Table 1 row e*);
- :mod:`.progressive` — ProGAN's latent projection and feature-map ladder (Table 2), shared by growing models;
- :mod:`.spectral` — spectral normalization as BigGAN uses it (§3, App. B);
- :mod:`.conditional` — SAGAN self-attention, class-conditional BatchNorm and BigGAN's D block (App. B).

Models import layers from here and never from another model.
"""
from gancore.nn.conditional import ConditionalBatchNorm2d, DiscriminatorBlock, SelfAttention
from gancore.nn.equalized import EqualizedConv2d, EqualizedLinear, LayerNorm2d, PixelNorm
from gancore.nn.minibatch import MinibatchDiscrimination, MinibatchStdDev
from gancore.nn.progressive import LatentProjection, progan_channels, resolution_ladder
from gancore.nn.resample import Downsample2x, Upsample2x, count_params, downsample2x, upsample2x
from gancore.nn.spectral import SNConv2d, SNEmbedding, SNLinear, skip_spectral_norm, sn

__all__ = ["ConditionalBatchNorm2d", "DiscriminatorBlock", "Downsample2x", "EqualizedConv2d", "EqualizedLinear",
           "LatentProjection", "LayerNorm2d", "MinibatchDiscrimination", "MinibatchStdDev", "PixelNorm", "SNConv2d",
           "SNEmbedding", "SNLinear", "SelfAttention", "Upsample2x", "count_params", "downsample2x", "progan_channels",
           "resolution_ladder", "skip_spectral_norm", "sn", "upsample2x"]

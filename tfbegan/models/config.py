"""``ModelConfig``: the backbone and equilibrium settings every model family shares.

The backbone (Berthelot et al. 2017, sec. 3.5) is the image size, channels, n, repeats,
N_z and N_h; the equilibrium settings are gamma, lambda_k, eta and k_0 (sec. 3.4).
Validated at construction (``tfbegan.checks``), before any variable exists.
"""

from __future__ import annotations

import dataclasses
import math

from tfbegan.checks import check_bool, check_choice, check_image_size, check_range, fields_with

#: Field metadata: the backbone settings every model family takes (``model_kwargs``).
BACKBONE = {"backbone": True}


#: Network architectures of ``ModelConfig.architecture`` (``tfbegan.networks.began``).
ARCHITECTURES = ("began", "dcgan")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and equilibrium hyper-parameters of a BEGAN (Berthelot et al. 2017, sec. 3).

    Attributes:
      image_size: height = width of the images, a power of two in [8, 256]. The
        bottleneck is always 8x8 (sec. 3.5), so sizes differ only in scale count.
      channels: 1 (grey) or 3 (RGB).
      filters: n, the filter count of the first scale; scale i uses (i + 1) * n.
      repeats: 3x3 conv + ELU layers per scale (paper: "typically 2").
      z_dim: N_z, the generator's input size, z ~ U[-1, 1]^N_z.
      h_dim: N_h, the auto-encoder's hidden-state size.
      gamma: diversity ratio gamma = E[L(G(z))] / E[L(x)], in [0, 1] (Eq. 5).
      lambda_k: proportional gain of the k_t update (paper: 0.001), >= 0.
      eta: exponent of the pixel loss L(v) = mean |v - D(v)|^eta, 1 or 2.
      k_init: k_0 (paper: 0), in [0, 1].
      batch_norm: batch normalization after the last (with the paper's two: the
        second) convolution of each scale block in encoder, decoder and generator
        (Li et al. 2018, Fig. 3).
      skip_connections: concatenate the first decoder tensor H0, nearest-up-sampled,
        with every up-sampled tensor in decoder and generator (Li et al. 2018, Fig. 3 "SC";
        Berthelot et al. 2017, sec. 4.1).
      architecture: ``"began"`` (Berthelot et al. 2017 sec. 3.5, the default) or
        ``"dcgan"``, the small DCGAN-style pair of public MNIST BEGANs
        (``tfbegan.networks.began``: one strided conv and a dense code in D, dense
        layers with batch norm and two transposed convs in G); ``repeats`` does
        not apply to it, and ``skip_connections`` joins G's H0 to its first
        up-sampled tensor only (D's decoder has a single up-sampling layer).
      generator_ema: decay d in [0, 1) of the exponential moving average of G's
        weights that samples come from (Yazici et al. 2019; ``tfbegan.models.ema``);
        0 = off, the default.
    """

    image_size: int = dataclasses.field(default=32, metadata=BACKBONE)
    channels: int = dataclasses.field(default=3, metadata=BACKBONE)
    filters: int = dataclasses.field(default=64, metadata=BACKBONE)
    repeats: int = dataclasses.field(default=2, metadata=BACKBONE)
    z_dim: int = dataclasses.field(default=64, metadata=BACKBONE)
    h_dim: int = dataclasses.field(default=64, metadata=BACKBONE)
    gamma: float = 0.5
    lambda_k: float = 0.001
    eta: int = 1
    k_init: float = 0.0
    batch_norm: bool = False
    skip_connections: bool = False
    architecture: str = "began"
    generator_ema: float = 0.0

    def __post_init__(self):
        check_image_size(self.image_size)
        check_range("channels", self.channels, integer=True)
        check_choice("channels", self.channels, (1, 3))
        check_range("filters", self.filters, 1, 4096, integer=True)
        check_range("repeats", self.repeats, 1, 16, integer=True)
        check_range("z_dim", self.z_dim, 1, 65536, integer=True)
        check_range("h_dim", self.h_dim, 1, 65536, integer=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("lambda_k", self.lambda_k, 0.0)
        check_range("eta", self.eta, integer=True)
        check_choice("eta", self.eta, (1, 2))
        check_range("k_init", self.k_init, 0.0, 1.0)
        check_range("generator_ema", self.generator_ema, 0.0, 1.0, high_open=True)
        for flag in ("batch_norm", "skip_connections"):
            check_bool(flag, getattr(self, flag))
        check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.gamma == 0 and self.k_init == 0:
            # A known critique of BEGAN: with gamma = 0 and k_0 = 0 the update
            # k += lambda_k * (0 - L(G(z))) <= 0 is clipped to 0 forever.
            raise ValueError(
                "gamma=0 with k_init=0 never moves k (k_{t+1} = clip(k_t - lambda_k * "
                "L(G(z)), 0, 1) stays 0); use gamma in (0, 1] or k_init in (0, 1]."
            )

    @property
    def num_scales(self) -> int:
        """Number of resolutions from image_size down to the 8x8 bottleneck."""
        return int(math.log2(self.image_size)) - 2

    def replace(self, **changes) -> "ModelConfig":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)
#: ModelConfig fields every model family takes; the CLI fills them from its flags.
BACKBONE_FIELDS = fields_with(ModelConfig, "backbone")

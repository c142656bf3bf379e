"""Frozen, validated configuration objects.

Every config validates itself at construction and raises ``ValueError`` naming the
argument, the bad value and the allowed range, before any TensorFlow variable is
created. Library code takes these objects (or plain arguments); only ``tfbegan.cli``
reads flags.
"""

from __future__ import annotations

import dataclasses
import math

SUPPORTED_IMAGE_SIZES = (8, 16, 32, 64, 128, 256)


def check_choice(name, value, allowed):
    """Raises ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not supported; allowed values: "
            f"{', '.join(repr(a) for a in allowed)}."
        )


def check_range(name, value, low=None, high=None, low_open=False, high_open=False,
                integer=False):
    """Raises ``ValueError`` unless ``low <= value <= high`` (bounds optional).

    ``low_open`` / ``high_open`` make the corresponding bound strict. ``integer``
    additionally requires an ``int`` (``bool`` is rejected).
    """
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name}={value!r} must be an integer.")
    if not integer:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}={value!r} must be a number.")
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be finite.")
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        left = "(" if (low_open or low is None) else "["
        right = ")" if (high_open or high is None) else "]"
        raise ValueError(f"{name}={value!r} is out of range; allowed: {left}{lo}, {hi}{right}.")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and equilibrium hyper-parameters of a BEGAN (paper 001, sec. 3).

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
    """

    image_size: int = 32
    channels: int = 3
    filters: int = 64
    repeats: int = 2
    z_dim: int = 64
    h_dim: int = 64
    gamma: float = 0.5
    lambda_k: float = 0.001
    eta: int = 1
    k_init: float = 0.0

    def __post_init__(self):
        check_range("image_size", self.image_size, integer=True)
        if self.image_size not in SUPPORTED_IMAGE_SIZES:
            raise ValueError(
                f"image_size={self.image_size!r} is not supported; allowed: a power of "
                f"two in [8, 256], i.e. one of {SUPPORTED_IMAGE_SIZES}."
            )
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
        if self.gamma == 0 and self.k_init == 0:
            # Seed 002's critique: with gamma = 0 and k_0 = 0 the update
            # k += lambda_k * (0 - L(G(z))) <= 0 is clipped to 0 forever.
            raise ValueError(
                "gamma=0 with k_init=0 never moves k (k_{t+1} = clip(k_t - lambda_k * "
                "L(G(z)), 0, 1) stays 0); use gamma in (0, 1] or k_init in (0, 1]."
            )
        if self.lambda_k == 0:
            # Legal (k frozen at k_init) but rarely intended; not an error.
            pass

    @property
    def num_scales(self) -> int:
        """Number of resolutions from image_size down to the 8x8 bottleneck."""
        return int(math.log2(self.image_size)) - 2

    def replace(self, **changes) -> "ModelConfig":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

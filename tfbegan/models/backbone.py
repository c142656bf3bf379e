"""The backbone settings every model family shares (Berthelot et al. 2017, sec. 3.5):
image size, channels, n, repeats, N_z, N_h, plus the seed of the training noise, and
the checks of the seed and the loss weights."""

from __future__ import annotations

import math

from tfbegan.config import BACKBONE_FIELDS


def check_seed(seed):
    """The seed of the stateless noise streams must be a Python int (not a bool)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r} must be an integer.")
    return seed


def check_weight(name, value):
    """A loss weight: a finite number >= 0 (as a float), else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={value!r} is out of range; allowed: a finite number "
                         f"in [0, inf).")
    return float(value)


def set_backbone(model, config, seed):
    """Stores ``config`` (a validated ModelConfig) as ``model.model_config``, one
    attribute per backbone field (``model.image_size``, ...) and ``model.seed``."""
    model.model_config = config
    for name in BACKBONE_FIELDS:
        setattr(model, name, getattr(config, name))
    model.seed = seed

"""The backbone settings every model family shares (Berthelot et al. 2017, sec. 3.5):
image size, channels, n, repeats, N_z, N_h, plus the seed of the training noise."""

from __future__ import annotations

from tfbegan.config import BACKBONE_FIELDS


def check_seed(seed):
    """The seed of the stateless noise streams must be a Python int (not a bool)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r} must be an integer.")
    return seed


def set_backbone(model, config, seed):
    """Stores ``config`` (a validated ModelConfig) as ``model.model_config``, one
    attribute per backbone field (``model.image_size``, ...) and ``model.seed``."""
    model.model_config = config
    for name in BACKBONE_FIELDS:
        setattr(model, name, getattr(config, name))
    model.seed = seed

"""Value checks: the one home of the range, choice and type checks of every config.

Each check raises ``ValueError`` naming the argument, the bad value and what is allowed,
so a frozen config (``ModelConfig``, ``TrainConfig``, ``DataConfig``) or a model
constructor fails before any TensorFlow variable or file exists. This module imports
nothing from tfbegan.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

SUPPORTED_IMAGE_SIZES = (8, 16, 32, 64, 128, 256)


def check_bool(name, value):
    """Raises ``ValueError`` unless ``value`` is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be a bool (True or False).")
    return value


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


def check_image_size(value, name="image_size"):
    """Raises ``ValueError`` unless ``value`` is a power of two in [8, 256]: the
    bottleneck is always 8x8 (Berthelot et al. 2017 sec. 3.5)."""
    check_range(name, value, integer=True)
    if value not in SUPPORTED_IMAGE_SIZES:
        raise ValueError(f"{name}={value!r} is not supported; allowed: a power of two in "
                         f"[8, 256], i.e. one of {SUPPORTED_IMAGE_SIZES}.")


def check_d_lr_ratio(value):
    """Raises ``ValueError`` unless D's learning-rate ratio is in (0, 100] (Berthelot et al. 2017
    sec. 4.1: 1, one rate for D and G)."""
    check_range("d_lr_ratio", value, 0.0, 100.0, low_open=True)


def fields_with(cls, key):
    """Names of ``cls``'s dataclass fields whose metadata sets ``key``."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get(key))


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


def check_period(name, value):
    """``value`` if it is an integer >= 1, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1.")
    return int(value)


#: k_t controllers a BEGAN can use (tfbegan.losses.equilibrium implements them).
CONTROLLERS = ("proportional", "pid")

#: PID gains (lambda_1, lambda_2, lambda_3) of Khan et al. 2018 (sec. 4).
DEFAULT_PID_GAINS = (1e-3, 1e-5, 1e-5)


def check_pid_gains(gains):
    """Returns ``gains`` as a tuple of three finite floats >= 0, else ValueError."""
    try:
        values = tuple(float(g) for g in gains)
    except (TypeError, ValueError):
        raise ValueError(f"pid_gains={gains!r} must be three numbers "
                         f"(lambda_1, lambda_2, lambda_3).") from None
    if len(values) != 3 or any(not (v >= 0.0 and v < float("inf")) for v in values):
        raise ValueError(f"pid_gains={gains!r} must be three finite numbers >= 0 "
                         f"(lambda_1, lambda_2, lambda_3); Khan et al. 2018 uses "
                         f"(0.001, 1e-05, 1e-05).")
    return values

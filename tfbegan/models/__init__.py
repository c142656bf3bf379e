"""The BEGAN family: one model per module."""

from tfbegan.models.began import BEGAN  # noqa: F401

"""tfbegan: Boundary Equilibrium GANs and their variants for TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"

from tfbegan.config import ModelConfig  # noqa: E402
from tfbegan.models.began import BEGAN  # noqa: E402

__all__ = ["BEGAN", "ModelConfig", "__version__"]

"""tfbegan: Boundary Equilibrium GANs and their variants for TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"

from tfbegan.config import ModelConfig  # noqa: E402
from tfbegan.models.age import AGE  # noqa: E402
from tfbegan.models.began import BEGAN  # noqa: E402
from tfbegan.models.bigan import BiGAN  # noqa: E402
from tfbegan.models.denoising_began import DenoisingBEGAN  # noqa: E402
from tfbegan.models.vae_began import VAEBEGAN  # noqa: E402

__all__ = ["AGE", "BEGAN", "BiGAN", "DenoisingBEGAN", "ModelConfig", "VAEBEGAN", "__version__"]

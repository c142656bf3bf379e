"""tfbegan: Boundary Equilibrium GANs and their variants for TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"

from tfbegan.config import ModelConfig
from tfbegan.models.age import AGE
from tfbegan.models.began import BEGAN
from tfbegan.models.bigan import BiGAN
from tfbegan.models.denoising_began import DenoisingBEGAN
from tfbegan.models.vae_began import VAEBEGAN

__all__ = ["AGE", "BEGAN", "BiGAN", "DenoisingBEGAN", "ModelConfig", "VAEBEGAN", "__version__"]

"""The BEGAN family: one model per module.

``MODELS`` maps the names ``tfbegan-train --model=NAME`` accepts to model classes.
"""

from tfbegan.models.age import AGE
from tfbegan.models.began import BEGAN
from tfbegan.models.bigan import BiGAN
from tfbegan.models.denoising_began import DenoisingBEGAN
from tfbegan.models.vae_began import VAEBEGAN

MODELS = {
    "began": BEGAN,
    "denoising_began": DenoisingBEGAN,
    "bigan": BiGAN,
    "age": AGE,
    "vae_began": VAEBEGAN,
}

"""Models: the BEGAN family, one ``keras.Model`` subclass per module.

``base`` (``GANModel``: compile with one optimizer per network, the image check, the
prior, the replica helpers, the trackers), ``began``, ``denoising_began``,
``vae_began``, ``bigan``, ``age`` (each with one ``compute_losses`` that its
``train_step`` and ``test_step`` share), ``encoder_gan`` (what BiGAN and AGE share),
``gradients`` (the single backward pass through D), ``ema`` (the generator average),
``priors`` and ``config`` (``ModelConfig``). ``MODELS`` maps the names
``tfbegan-train --model=NAME`` accepts to the classes (the CLI's flag modules,
``tfbegan.cli.variants``, are keyed by the same names). Importing this package
registers the classes with Keras, which ``keras.models.load_model`` needs. May import
``checks``, ``losses`` and ``networks`` only.
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

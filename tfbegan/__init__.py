"""tfbegan: Boundary Equilibrium GANs and their variants for TensorFlow 2 / Keras 3.

The package is folders by concept; each ``__init__`` says what lives there and what it
may import. ``import tfbegan`` loads no TensorFlow (so a CLI can set up logging first);
the models are in :mod:`tfbegan.models`:

    from tfbegan.models import BEGAN, DenoisingBEGAN, VAEBEGAN, BiGAN, AGE

* ``models`` - the six model families (keras.Model subclasses with their train steps)
  and the registry of names ``tfbegan-train --model`` accepts.
* ``losses`` - pure loss functions and k_t controllers.
* ``networks`` - encoder, decoder, generator and discriminator builders.
* ``data`` - tf.data pipelines: embedded digits, tensorflow-datasets, image folders.
* ``training`` - ``train(config, workdir)``: checkpoints, resume, preemption, strategies.
* ``callbacks`` - Keras callbacks for any ``model.fit``.
* ``evaluation`` - FID / KID / IS / MS-SSIM, feature networks, IQA statistics.
* ``serving`` - SavedModel export for TF Serving, loading exports, latent tools.
* ``cli`` - the absl command-line programs and their flags.
* ``checks``, ``imaging``, ``fileio`` - value checks, image conversions and atomic
  file writes, used by every folder.
"""

__version__ = "0.1.0"

"""The shared base of the encoder models, BiGAN (Donahue et al. 2017) and AGE
(Ulyanov et al. 2018): backbone arguments, ``encode`` / ``reconstruct`` and the update
that applies each network's gradient of its own loss.
"""

from __future__ import annotations

from tfbegan.models.base import GANModel
from tfbegan.models.config import ModelConfig

#: Adam as in the BiGAN paper's experiments (lr 2e-4, beta1 0.5); AGE uses the same.
DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA1 = 0.5


class EncoderGANBase(GANModel):
    """Common plumbing of the encoder-based models (BiGAN, AGE); not registered.

    Subclasses set :attr:`optimizer_networks` (``(name, network attribute)`` pairs;
    the first optimizer's ``iterations`` is the step counter that keys z), build
    their networks after ``super().__init__`` and call :meth:`finish_init`.
    """

    has_encoder = True
    #: Reconstruction error ``mean |x - G(E(x))|``: both models are trained so that
    #: E inverts G (BiGAN Theorem 2; AGE's reciprocity theorem), and unlike the
    #: adversarial losses it falls steadily while training makes progress.
    convergence_metric = "recon_l1"
    default_learning_rate = DEFAULT_LEARNING_RATE
    default_beta1 = DEFAULT_BETA1

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, seed=0, batch_norm=False, architecture="began", **kwargs):
        # ModelConfig validates the backbone arguments before any variable exists.
        # batch_norm: Li et al. 2018's conv -> batch norm -> ELU blocks in every
        # network (off by default; the AGE authors' DCGAN-style networks use it).
        # architecture: "began" (Berthelot et al. 2017's backbone, the default) or
        # "dcgan" (tfbegan.networks.encoders: the DCGAN-style networks both papers use).
        config = ModelConfig(image_size=image_size, channels=channels,
                             filters=filters, repeats=repeats, z_dim=z_dim,
                             h_dim=h_dim, batch_norm=batch_norm,
                             architecture=architecture)
        super().__init__(**kwargs)
        self.init_backbone(config, seed)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(image_size=self.image_size, channels=self.channels,
                      filters=self.filters, repeats=self.repeats, z_dim=self.z_dim,
                      h_dim=self.h_dim, seed=self.seed,
                      batch_norm=self.model_config.batch_norm,
                      architecture=self.model_config.architecture)
        return config

    def encode(self, images):
        """E(x): images in [-1, 1] -> latents, in inference mode."""
        return self.encoder(self.check_images(images), training=False)

    def reconstruct(self, images):
        """G(E(x)) in inference mode (the reconstructions of Ulyanov et al. 2018's AGE figures)."""
        return self.generator(self.encode(images), training=False)

    def apply_own_gradients(self, tape, scaled_losses):
        """Each optimizer gets the gradient of its own loss w.r.t. its own network.

        ``scaled_losses`` maps optimizer names to per-replica means divided by the
        replica count (computed on ``tape``: the optimizer sums replica gradients)
        and passed through the optimizer's ``scale_loss`` (float16 loss scale).
        All gradients are taken before any update, so every step sees one forward
        pass with the same weights.
        """
        updates = []
        for name, network in self.optimizer_networks:
            variables = getattr(self, network).trainable_variables
            grads = tape.gradient(scaled_losses[name], variables)
            updates.append((getattr(self, f"{name}_optimizer"), grads, variables))
        for opt, grads, variables in updates:
            opt.apply_gradients(zip(grads, variables, strict=True))



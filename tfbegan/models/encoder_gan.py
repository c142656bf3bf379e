"""The shared base of the encoder models, BiGAN (Donahue et al. 2017) and AGE
(Ulyanov et al. 2018): backbone arguments, one optimizer per network, stateless
global-batch z, cross-replica metric reduction, config round trip and the
``generate`` / ``encode`` API of the model registry.
"""

from __future__ import annotations

import keras

import tfbegan.models.priors as priors
from tfbegan.checks import check_seed
from tfbegan.models.base import MultiOptimizerModel, set_backbone
from tfbegan.models.began import BEGAN
from tfbegan.models.config import ModelConfig

#: Adam as in the BiGAN paper's experiments (lr 2e-4, beta1 0.5); AGE uses the same.
DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA1 = 0.5


class EncoderGANBase(MultiOptimizerModel):
    """Common plumbing of the encoder-based models (BiGAN, AGE); not registered.

    Subclasses set :attr:`optimizer_networks` (``(name, network attribute)`` pairs;
    the first optimizer's ``iterations`` is the step counter that keys z), build
    their networks after ``super().__init__`` and call :meth:`_finish_init`.

    Helpers that are identical to BEGAN's are borrowed from :class:`BEGAN` rather
    than copied: image checking, the per-replica slice of the global-batch z, the
    cross-replica mean of the metrics and ``generate``.
    """

    prior = "uniform"
    has_encoder = True
    optimizer_networks = ()
    #: Reconstruction error ``mean |x - G(E(x))|``: both models are trained so that
    #: E inverts G (BiGAN Theorem 2; AGE's reciprocity theorem), and unlike the
    #: adversarial losses it falls steadily while training makes progress.
    convergence_metric = "recon_l1"

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, seed=0, batch_norm=False, architecture="began", **kwargs):
        # ModelConfig validates the backbone arguments before any variable exists.
        # batch_norm: Li et al. 2018's conv -> batch norm -> ELU blocks in every
        # network (off by default; the AGE authors' DCGAN-style networks use it).
        # architecture: "began" (Berthelot et al. 2017's backbone, the default) or
        # "dcgan" (tfbegan.networks.encoders: the DCGAN-style networks both papers use).
        config = ModelConfig(image_size=image_size, channels=channels,
                             filters=filters, repeats=repeats, z_dim=z_dim,
                             h_dim=h_dim, batch_norm=bool(batch_norm),
                             architecture=architecture)
        check_seed(seed)
        super().__init__(**kwargs)
        set_backbone(self, config, seed)
        self.reset_optimizers()

    def _finish_init(self):
        self._trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names()}
        # The sub-models are built; without this fit() under a strategy stops with
        # "Unable to automatically build the model".
        self.built = True

    # ------------------------------------------------------------------ borrowed
    _check_images = BEGAN._check_images
    _global_z = BEGAN._global_z
    image_shape = BEGAN.image_shape
    generate = BEGAN.generate
    # No generator EMA here (tfbegan.models.ema): BEGAN.generate samples from G.
    sampling_generator = property(lambda self: self.generator)

    # ------------------------------------------------------------------ metrics
    def metric_names(self):
        raise NotImplementedError

    @property
    def metrics(self):
        return list(self._trackers.values())

    def _report(self, values):
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    # ------------------------------------------------------------------ compile
    default_learning_rate = DEFAULT_LEARNING_RATE
    default_beta1 = DEFAULT_BETA1

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(image_size=self.image_size, channels=self.channels,
                      filters=self.filters, repeats=self.repeats, z_dim=self.z_dim,
                      h_dim=self.h_dim, seed=self.seed)
        if self.model_config.batch_norm:
            config["batch_norm"] = True
        if self.model_config.architecture != "began":
            config["architecture"] = self.model_config.architecture
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------ API
    def sample_z(self, num, seed=0, counter=0):
        """``num`` latents from :attr:`prior`, stateless in ``(seed, counter)``."""
        return priors.sample(self.prior, num, self.z_dim, seed, counter)

    def encode(self, images):
        """E(x): images in [-1, 1] -> latents, in inference mode."""
        return self.encoder(self._check_images(images), training=False)

    def reconstruct(self, images):
        """G(E(x)) in inference mode (the reconstructions of Ulyanov et al. 2018's AGE figures)."""
        return self.generator(self.encode(images), training=False)

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def _apply(self, tape, scaled_losses):
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

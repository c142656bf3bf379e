"""BiGAN: Bidirectional GAN (Donahue, Kraehenbuehl, Darrell 2017).

Also home of :class:`EncoderGANBase`, the plumbing that BiGAN and AGE
(``tfbegan/models/age.py``) share: backbone arguments, one optimizer per network,
stateless global-batch z, cross-replica metric reduction, config round trip and the
``generate`` / ``encode`` API of the model registry.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbegan import priors
from tfbegan.config import ModelConfig
from tfbegan.models.began import (BEGAN, _replica_context, default_optimizer,
                                  discriminator_learning_rate, maybe_loss_scale)
from tfbegan.networks import build_encoder, build_generator

#: Adam as in the BiGAN paper's experiments (lr 2e-4, beta1 0.5); AGE uses the same.
DEFAULT_LEARNING_RATE = 2e-4
DEFAULT_BETA1 = 0.5


class EncoderGANBase(keras.Model):
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
                 h_dim=64, seed=0, **kwargs):
        # ModelConfig validates the backbone arguments before any variable exists.
        config = ModelConfig(image_size=image_size, channels=channels,
                             filters=filters, repeats=repeats, z_dim=z_dim,
                             h_dim=h_dim)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed={seed!r} must be an integer.")
        super().__init__(**kwargs)
        self.model_config = config
        self.image_size = image_size
        self.channels = channels
        self.filters = filters
        self.repeats = repeats
        self.z_dim = z_dim
        self.h_dim = h_dim
        self.seed = seed
        for name, _ in self.optimizer_networks:
            setattr(self, f"{name}_optimizer", None)

    def _finish_init(self):
        self._trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names()}
        # The sub-models are built; without this fit() under a strategy stops with
        # "Unable to automatically build the model".
        self.built = True

    # ------------------------------------------------------------------ borrowed
    _check_images = BEGAN._check_images
    _global_z = BEGAN._global_z
    _all_mean = staticmethod(BEGAN._all_mean)
    image_shape = BEGAN.image_shape
    generate = BEGAN.generate

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
    def _compile_networks(self, optimizers, kwargs):
        """Attaches ``optimizers`` (name -> optimizer or None) and builds them on
        their networks' variables inside the strategy scope (a lazily built Adam in
        a custom train_step under MirroredStrategy fails with
        "You must feed a value for placeholder tensor")."""
        kwargs.pop("optimizer", None)
        kwargs.pop("loss", None)
        super().compile(optimizer=None, **kwargs)
        chosen = []
        for name, _ in self.optimizer_networks:
            opt = optimizers.get(name)
            opt = keras.optimizers.get(
                opt if opt is not None else default_optimizer(
                    DEFAULT_LEARNING_RATE, DEFAULT_BETA1, name=f"{name}_adam"))
            if any(opt is other for other in chosen):
                raise ValueError("each network needs its own optimizer object (each "
                                 "keeps its own slot variables); got the same one for "
                                 f"{name}_optimizer and another network.")
            chosen.append(opt)
        # Every train_step here differentiates optimizer.scale_loss(loss).
        chosen = [maybe_loss_scale(opt, self.dtype_policy) for opt in chosen]
        for (name, _), opt in zip(self.optimizer_networks, chosen):
            setattr(self, f"{name}_optimizer", opt)
        with self.distribute_strategy.scope():
            for (name, network), opt in zip(self.optimizer_networks, chosen):
                opt.build(getattr(self, network).trainable_variables)

    def make_optimizers(self, learning_rate=DEFAULT_LEARNING_RATE, beta1=DEFAULT_BETA1,
                        d_lr_ratio=1.0):
        """Fresh Adam optimizers for :meth:`compile`, one per network, as kwargs.

        The discriminator (BiGAN's ``d``) learns at ``d_lr_ratio * learning_rate``;
        a model without one (AGE) accepts only ``d_lr_ratio = 1``.
        """
        d_rate = discriminator_learning_rate(learning_rate, d_lr_ratio)
        names = [name for name, _ in self.optimizer_networks]
        if d_lr_ratio != 1.0 and "d" not in names:
            raise ValueError(f"d_lr_ratio={d_lr_ratio!r}: {type(self).__name__} has no "
                             f"discriminator (its networks: {', '.join(names)}); "
                             f"leave the ratio at 1.")
        return {f"{name}_optimizer": default_optimizer(
                    d_rate if name == "d" else learning_rate, beta1, name=f"{name}_adam")
                for name in names}

    @property
    def optimizers(self):
        """The optimizers in :attr:`optimizer_networks` order; used by LR callbacks."""
        opts = [getattr(self, f"{name}_optimizer") for name, _ in self.optimizer_networks]
        return [o for o in opts if o is not None]

    def _require_compiled(self):
        if len(self.optimizers) != len(self.optimizer_networks):
            names = ", ".join(f"{n}_optimizer=..." for n, _ in self.optimizer_networks)
            raise RuntimeError(f"Call model.compile({names}) before fit().")

    def get_compile_config(self):
        if not self.optimizers:
            return None
        return {f"{name}_optimizer": keras.saving.serialize_keras_object(
            getattr(self, f"{name}_optimizer")) for name, _ in self.optimizer_networks}

    def compile_from_config(self, config):
        self.compile(**{key: keras.saving.deserialize_keras_object(value)
                        for key, value in config.items()})

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(image_size=self.image_size, channels=self.channels,
                      filters=self.filters, repeats=self.repeats, z_dim=self.z_dim,
                      h_dim=self.h_dim, seed=self.seed)
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

    def _step_counter(self):
        return tf.convert_to_tensor(
            getattr(self, f"{self.optimizer_networks[0][0]}_optimizer").iterations)

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
            opt.apply_gradients(zip(grads, variables))


def bigan_losses(logits_real, logits_fake, non_saturating=True):
    """Losses of the BiGAN game (Donahue et al. 2017) from discriminator logits.

    With ``D = sigmoid(logit)``, ``logits_real = D-logit(x, E(x))`` and
    ``logits_fake = D-logit(G(z), z)``:

    * value ``V = mean log D(x, E(x)) + mean log(1 - D(G(z), z))``;
    * ``d_loss = -V = mean softplus(-logits_real) + mean softplus(logits_fake)``
      (D maximises V);
    * minimax (Eq. 2 as printed): G and E minimise V, split into the term each one
      can change: ``g_loss = mean log(1 - D(G(z), z)) = -mean softplus(logits_fake)``,
      ``e_loss = mean log D(x, E(x)) = -mean softplus(-logits_real)``;
    * non-saturating (labels swapped, BiGAN paper sec. 3.4; Goodfellow et al. 2014
      sec. 3): ``g_loss = -mean log D(G(z), z) = mean softplus(-logits_fake)``,
      ``e_loss = -mean log(1 - D(x, E(x))) = mean softplus(logits_real)``. Same
      fixed points, strong gradients while D wins.

    Returns a dict of scalars ``d_loss, g_loss, e_loss, value, d_real, d_fake``
    (``d_real`` / ``d_fake`` are the mean probabilities D assigns to "encoder pair").
    """
    logits_real = tf.cast(logits_real, tf.float32)
    logits_fake = tf.cast(logits_fake, tf.float32)
    log_d_real = -tf.reduce_mean(tf.nn.softplus(-logits_real))       # E log D(x, E(x))
    log_1m_d_fake = -tf.reduce_mean(tf.nn.softplus(logits_fake))     # E log(1 - D(G(z), z))
    value = log_d_real + log_1m_d_fake
    if non_saturating:
        g_loss = tf.reduce_mean(tf.nn.softplus(-logits_fake))
        e_loss = tf.reduce_mean(tf.nn.softplus(logits_real))
    else:
        g_loss = log_1m_d_fake
        e_loss = log_d_real
    return {"d_loss": -value, "g_loss": g_loss, "e_loss": e_loss, "value": value,
            "d_real": tf.reduce_mean(tf.sigmoid(logits_real)),
            "d_fake": tf.reduce_mean(tf.sigmoid(logits_fake))}


def build_bigan_encoder(config: ModelConfig, name: str = "encoder") -> keras.Model:
    """E: image -> z in (-1, 1)^N_z: the BEGAN encoder (Dense to N_z) and a tanh.

    The tanh keeps E(x) inside the support of the U[-1, 1] prior; otherwise D could
    tell the pairs apart from ``|z| > 1`` alone.
    """
    base = build_encoder(config.replace(h_dim=config.z_dim), name=f"{name}_net")
    inputs = keras.Input((config.image_size, config.image_size, config.channels),
                         name="images")
    z = keras.layers.Activation("tanh", name=f"{name}_tanh", dtype="float32")(base(inputs))
    return keras.Model(inputs, z, name=name)


def build_joint_discriminator(config: ModelConfig, units: int,
                              name: str = "discriminator") -> keras.Model:
    """D(x, z) -> logit: the BEGAN encoder's conv stack on x (to an N_h feature),
    concatenated with z, one Dense(units) + ELU and a Dense(1) logit."""
    image_branch = build_encoder(config, name=f"{name}_image")
    images = keras.Input((config.image_size, config.image_size, config.channels),
                         name="images")
    z = keras.Input((config.z_dim,), name="z")
    h = keras.layers.Concatenate(name=f"{name}_concat")([image_branch(images), z])
    h = keras.layers.Dense(units, activation="elu", name=f"{name}_joint")(h)
    logit = keras.layers.Dense(1, name=f"{name}_logit", dtype="float32")(h)
    logit = keras.layers.Reshape((), name=f"{name}_squeeze")(logit)
    return keras.Model([images, z], logit, name=name)


@keras.saving.register_keras_serializable(package="tfbegan")
class BiGAN(EncoderGANBase):
    """Bidirectional GAN: generator G(z), encoder E(x), joint discriminator D(x, z).

    The game of Donahue et al. 2017, Eq. 1:
    ``min_{G,E} max_D V = E_x log D(x, E(x)) + E_z log(1 - D(G(z), z))``.
    One forward pass per step gives D's loss ``-V`` and the G / E losses of
    :func:`bigan_losses` (non-saturating by default, the printed minimax with
    ``non_saturating=False``); each of the three optimizers is applied to the
    gradient of its own loss w.r.t. its own network only.

    Prior: z ~ U[-1, 1]^N_z, the prior of the slides' notation (and of the BiGAN
    paper's experiments); E ends in a tanh to stay in that support.

    Networks: G is the BEGAN generator; E is the BEGAN encoder with a Dense to N_z;
    D runs the BEGAN encoder conv stack on x (to an N_h feature), concatenates z and
    applies Dense(``d_units``) + ELU and a logit.

    Distribution: z is drawn for the global batch (stateless in (seed, step)) and
    sliced per replica; per-replica means are divided by the replica count before
    the optimizers' cross-replica sum; metrics are all-reduced. N replicas give the
    same update as one device with the global batch.

    Metrics: ``d_loss, g_loss, e_loss, d_real, d_fake`` and ``recon_l1`` =
    ``mean |x - G(E(x))|`` (the convergence metric).

    Args:
      image_size, channels, filters, repeats, z_dim, h_dim, seed: the BEGAN backbone
        (see :class:`tfbegan.BEGAN`); h_dim is the width of D's image feature.
      d_units: width of D's joint hidden layer.
      non_saturating: use the non-saturating G / E losses (default) instead of the
        minimax ones.

    Example:

    ```python
    model = tfbegan.BiGAN(image_size=32, channels=1, filters=16, z_dim=32, h_dim=32)
    model.compile(**model.make_optimizers(2e-4, 0.5))
    model.fit(images_in_minus1_1, epochs=1, steps_per_epoch=100)
    z = model.encode(images)            # E(x)
    x_rec = model.generate(z)           # G(E(x))
    ```

    Reference: https://arxiv.org/abs/1605.09782
    """

    prior = "uniform"
    optimizer_networks = (("d", "discriminator"), ("g", "generator"), ("e", "encoder"))

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, seed=0, d_units=256, non_saturating=True, **kwargs):
        if isinstance(d_units, bool) or not isinstance(d_units, int) or not (
                1 <= d_units <= 65536):
            raise ValueError(f"d_units={d_units!r} is out of range; allowed: an "
                             f"integer in [1, 65536].")
        if not isinstance(non_saturating, bool):
            raise ValueError(f"non_saturating={non_saturating!r} must be a bool.")
        super().__init__(image_size=image_size, channels=channels, filters=filters,
                         repeats=repeats, z_dim=z_dim, h_dim=h_dim, seed=seed, **kwargs)
        self.d_units = d_units
        self.non_saturating = non_saturating
        config = self.model_config
        self.generator = build_generator(config)
        self.encoder = build_bigan_encoder(config)
        self.discriminator = build_joint_discriminator(config, d_units)
        self._finish_init()

    def compile(self, d_optimizer=None, g_optimizer=None, e_optimizer=None, **kwargs):
        """One optimizer per network (Adam(2e-4, beta1=0.5) each by default)."""
        self._compile_networks({"d": d_optimizer, "g": g_optimizer, "e": e_optimizer},
                               kwargs)

    def metric_names(self):
        return ("d_loss", "g_loss", "e_loss", "d_real", "d_fake", "recon_l1")

    def get_config(self):
        config = super().get_config()
        config.update(d_units=self.d_units, non_saturating=self.non_saturating)
        return config

    def compute_losses(self, x, z, training):
        """One forward pass: D on (x, E(x)) and (G(z), z), then :func:`bigan_losses`.

        Returns the loss dict plus ``fake`` = G(z) and ``z_real`` = E(x).
        """
        z_real = self.encoder(x, training=training)
        fake = self.generator(z, training=training)
        logits_real = self.discriminator([x, z_real], training=training)
        logits_fake = self.discriminator([fake, z], training=training)
        out = bigan_losses(logits_real, logits_fake, self.non_saturating)
        out.update(fake=fake, z_real=z_real)
        return out

    def _recon_l1(self, x, z_real):
        return tf.reduce_mean(tf.abs(x - self.generator(z_real, training=False)))

    def train_step(self, data):
        self._require_compiled()
        x = self._check_images(data)
        ctx = _replica_context()
        n_rep = ctx.num_replicas_in_sync
        z = self._global_z(tf.shape(x)[0], ctx, self._step_counter())
        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_losses(x, z, training=True)
            scaled = {k: getattr(self, f"{k}_optimizer").scale_loss(out[f"{k}_loss"] / n_rep)
                      for k in ("d", "g", "e")}
        self._apply(tape, scaled)
        del tape
        # Monitoring only: measured with the pre-update E and G of this step.
        recon = self._recon_l1(x, tf.stop_gradient(out["z_real"]))
        values = self._all_mean(ctx, {k: out[k] for k in self.metric_names()
                                      if k != "recon_l1"} | {"recon_l1": recon})
        return self._report(values)

    def test_step(self, data):
        x = self._check_images(data)
        ctx = _replica_context()
        # A fixed z per evaluation batch position: comparable across evaluations.
        z = self._global_z(tf.shape(x)[0], ctx, -1)
        out = self.compute_losses(x, z, training=False)
        recon = self._recon_l1(x, out["z_real"])
        values = self._all_mean(ctx, {k: out[k] for k in self.metric_names()
                                      if k != "recon_l1"} | {"recon_l1": recon})
        return self._report(values)

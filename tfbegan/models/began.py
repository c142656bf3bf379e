"""BEGAN: Boundary Equilibrium GAN (Berthelot, Schumm, Metz 2017; Berthelot et al. 2017)."""

from __future__ import annotations

import keras
import tensorflow as tf

import tfbegan.models.priors as priors
from tfbegan.checks import check_seed
from tfbegan.losses import equilibrium
from tfbegan.losses.distances import make_distance
from tfbegan.models.base import (
    MultiOptimizerModel,
    all_mean,
    replica_context,
    set_backbone,
)
from tfbegan.models.config import ModelConfig
from tfbegan.models.ema import GeneratorEMAMixin
from tfbegan.models.gradients import began_gradients, loss_scale_ratio
from tfbegan.networks.began import build_discriminator, build_generator

DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_BETA1 = 0.5



@keras.saving.register_keras_serializable(package="tfbegan")
class BEGAN(GeneratorEMAMixin, MultiOptimizerModel):
    """Boundary Equilibrium GAN with an auto-encoder discriminator.

    Implements Berthelot et al. 2017, sections 3.3-3.4:

    * ``L(v) = mean |v - D(v)|^eta`` per sample (Eq. 1), batch-averaged.
    * ``L_D = L(x) - k_t L(G(z))`` trains D only; ``L_G = L(G(z))`` trains G only
      (footnote 2: each network gets only its own loss's gradient). One z batch
      serves both, and one backward pass of ``L(G(z))`` through D gives D's part
      (times ``-k_t``) and the gradient G continues with
      (:mod:`tfbegan.models.gradients`).
    * ``k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)``, k_0 = ``k_init``.
    * ``M_global = L(x) + |gamma L(x) - L(G(z))|`` (sec. 3.4.2).

    Under ``tf.distribute`` each replica computes per-replica means; gradients are
    scaled by ``1 / num_replicas`` before the optimizer's cross-replica sum, so any
    replica count gives the gradient of the global-batch mean. Losses are all-reduced
    (mean) before metrics and the k update, so k is one value on every replica. z is
    drawn for the *global* batch from a stateless generator keyed by (seed, step) and
    sliced per replica: one device and N replicas see the same z, and a resumed run
    continues the same z sequence.

    Args:
      image_size: square image size, a power of two in [8, 256].
      channels: 1 or 3.
      filters: n, filters of the first scale (linear growth n, 2n, ...).
      repeats: conv + ELU layers per scale.
      z_dim: N_z. h_dim: N_h (independent, paper sec. 4.5).
      gamma: diversity ratio in [0, 1]. lambda_k: k's gain (>= 0). eta: 1 or 2.
      k_init: initial k. seed: seed of the training z sequence.
      controller: ``"proportional"`` (sec. 3.4) or ``"pid"`` (Khan et al. 2018's Eq. 12,
        driven by ``e_t = gamma L(x) - L(G(z))``; ``lambda_k`` is then unused).
      pid_gains: (lambda_1, lambda_2, lambda_3) of the PID controller.
      architecture: ``"began"`` (the paper network) or ``"dcgan"``, the cheaper
        DCGAN-style pair of public MNIST BEGANs (``tfbegan.networks.began``).
      batch_norm, skip_connections: Li et al. 2018's architecture options (Fig. 3; see
        ``tfbegan.networks.began``). Here D's real and generated batches are two calls,
        so with ``batch_norm`` each is normalized with its own batch statistics;
        ``DenoisingBEGAN`` normalizes one concatenated batch instead.
      generator_ema: decay d in [0, 1) of an exponential moving average of G's
        weights that samples come from (Yazici et al. 2019; ``tfbegan.models.ema``); 0 = off.

    Example:

    ```python
    model = BEGAN(image_size=32, channels=1, filters=32, z_dim=64, h_dim=64)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-4, 0.5),
                  g_optimizer=keras.optimizers.Adam(1e-4, 0.5))
    model.fit(dataset_of_images_in_minus1_1, epochs=1, steps_per_epoch=100)
    images = model.generate(16, seed=0)
    ```

    Reference: https://arxiv.org/abs/1703.10717
    """

    prior = "uniform"

    #: True when train_step computes gradients of ``optimizer.scale_loss(loss)``, so
    #: that compile may wrap the optimizers for float16 loss scaling
    #: (:func:`maybe_loss_scale`). BEGAN's own train_step always qualifies.
    scales_losses = False

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, gamma=0.5, lambda_k=0.001, eta=1, k_init=0.0, seed=0,
                 distance=None, controller="proportional",
                 pid_gains=equilibrium.DEFAULT_PID_GAINS, batch_norm=False,
                 skip_connections=False, architecture="began", generator_ema=0.0, **kwargs):
        # Validate before any variable exists.
        config = ModelConfig(image_size=image_size, channels=channels, filters=filters,
                             repeats=repeats, z_dim=z_dim, h_dim=h_dim, gamma=gamma,
                             lambda_k=lambda_k, eta=eta, k_init=k_init,
                             batch_norm=batch_norm, skip_connections=skip_connections,
                             architecture=architecture, generator_ema=generator_ema)
        check_seed(seed)
        distance_fn = make_distance(distance, eta, channels=channels)  # validates the spec
        if controller not in equilibrium.CONTROLLERS:
            raise ValueError(f"controller={controller!r} is not supported; allowed: "
                             f"{equilibrium.CONTROLLERS}.")
        pid_gains = equilibrium.check_pid_gains(pid_gains)
        super().__init__(**kwargs)
        set_backbone(self, config, seed)
        self.gamma = float(gamma)
        self.lambda_k = float(lambda_k)
        self.eta = eta
        self.k_init = float(k_init)
        self.distance_spec = distance_fn.spec  # canonical string: dicts round-trip
        self._distance_fn = distance_fn
        self.controller = controller
        self.pid_gains = pid_gains
        # As validated by ModelConfig.
        for name in ("batch_norm", "skip_connections", "architecture"):
            setattr(self, name, getattr(config, name))

        self.generator = self.build_generator_network(config)
        self.discriminator = self.build_discriminator_network(config)
        self.init_generator_ema(generator_ema, config)  # tfbegan.models.ema
        # aggregation="mean": with the default, replicas drift apart
        # (0.1196 vs 0.1161 after a few steps in a 2-replica test).
        self.k = self.add_weight(
            name="k", shape=(), initializer=keras.initializers.Constant(self.k_init),
            trainable=False, aggregation="mean", dtype="float32")
        if controller == "pid":
            # e_{t-1}, e_{t-2} of Khan et al. 2018's Eq. 12 (0 before the first step): model
            # weights, so .keras checkpoints restore them; "mean" keeps replicas equal.
            self.e_prev1 = self.add_weight(
                name="e_prev1", shape=(), initializer="zeros", trainable=False,
                aggregation="mean", dtype="float32")
            self.e_prev2 = self.add_weight(
                name="e_prev2", shape=(), initializer="zeros", trainable=False,
                aggregation="mean", dtype="float32")
        self._build_trackers()
        self.reset_optimizers()
        self.built = True

    # ------------------------------------------------------------------ networks
    def build_generator_network(self, config):
        """G; subclasses swap in variants (batch norm, skips, ...)."""
        return build_generator(config)

    def build_discriminator_network(self, config):
        """D = decoder(encoder(x)); subclasses swap in variants."""
        return build_discriminator(config)

    def _build_trackers(self):
        names = self.metric_names()
        self._trackers = {n: keras.metrics.Mean(name=n) for n in names if n != "k"}

    def metric_names(self):
        """Names of the values each step reports (``k`` is the current value).

        With ``controller="pid"`` the equilibrium error ``e_t`` is reported too.
        """
        names = ("loss_real", "loss_fake", "d_loss", "g_loss", "k", "m_global")
        if getattr(self, "controller", None) == "pid":
            names += ("e_t",)
        return names

    @property
    def metrics(self):
        return list(self._trackers.values())

    # ------------------------------------------------------------------ compile
    optimizer_networks = (("d", "discriminator"), ("g", "generator"))
    default_learning_rate = DEFAULT_LEARNING_RATE
    default_beta1 = DEFAULT_BETA1

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Attaches one optimizer per network (Adam(1e-4, beta1=0.5) by default),
        each built on its variables inside the model's strategy scope."""
        self.compile_networks({"d": d_optimizer, "g": g_optimizer}, kwargs)

    def scales_its_losses(self):
        # A subclass with its own train_step must scale its losses with
        # optimizer.scale_loss before it gets loss-scaled optimizers.
        return type(self).train_step is BEGAN.train_step or self.scales_losses

    #: The metric that ConvergenceLRDecay watches (Berthelot et al. 2017 sec. 4.1).
    convergence_metric = "m_global"

    #: Models that infer z from x (VAE+BEGAN, BiGAN, AGE) set this to True and
    #: implement :meth:`encode`; export then adds the ``encode`` signature.
    has_encoder = False

    def encode(self, images):
        """images -> z; only for models with an encoder."""
        raise NotImplementedError(f"{type(self).__name__} has no encoder.")

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(
            image_size=self.image_size, channels=self.channels, filters=self.filters,
            repeats=self.repeats, z_dim=self.z_dim, h_dim=self.h_dim, gamma=self.gamma,
            lambda_k=self.lambda_k, eta=self.eta, k_init=self.k_init, seed=self.seed,
            distance=self.distance_spec, controller=self.controller,
            pid_gains=list(self.pid_gains), batch_norm=self.batch_norm,
            skip_connections=self.skip_connections, architecture=self.architecture)
        return self.add_ema_config(config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------ helpers
    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    def distance(self, v, reconstruction):
        """Per-sample auto-encoder loss L (pixel loss with exponent eta by default,
        or the weighted distance spec given as ``distance``)."""
        return self._distance_fn(v, reconstruction)

    def sample_z(self, num, seed=0, counter=0):
        """``num`` latents from the prior (U[-1, 1]^N_z), stateless in (seed, counter)."""
        return priors.sample(self.prior, num, self.z_dim, seed, counter)

    def generate(self, z_or_num, seed=0):
        """G(z) in inference mode.

        ``generate(z)`` maps the given ``[num, z_dim]`` latents;
        ``generate(num, seed=s)`` draws ``num`` latents with :meth:`sample_z` first.
        """
        if isinstance(z_or_num, int) and not isinstance(z_or_num, bool):
            if z_or_num <= 0:
                raise ValueError(f"num={z_or_num!r} must be > 0.")
            z = self.sample_z(z_or_num, seed)
        else:
            z = tf.convert_to_tensor(z_or_num, tf.float32)
            if z.shape.rank != 2 or z.shape[-1] != self.z_dim:
                raise ValueError(f"z must have shape [num, {self.z_dim}], got {z.shape}.")
        return self.sampling_generator(z, training=False)

    def reconstruct(self, x):
        """D(x), the discriminator's auto-encoding, in inference mode."""
        return self.discriminator(self._check_images(x), training=False)

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def _check_images(self, data):
        """Takes the images out of ``data`` and checks shape and dtype."""
        if isinstance(data, dict):
            if "image" not in data:
                raise ValueError(f"expected images of shape [batch, {self.image_size}, "
                                 f"{self.image_size}, {self.channels}] (or a dict with "
                                 f"key 'image'), got keys {sorted(data)}.")
            data = data["image"]
        elif isinstance(data, (tuple, list)):
            data = data[0]
        x = tf.convert_to_tensor(data)
        expected = f"[batch, {self.image_size}, {self.image_size}, {self.channels}]"
        if not x.dtype.is_floating:
            raise ValueError(f"expected float images in [-1, 1] of shape {expected}; got "
                             f"dtype {x.dtype.name} (scale uint8 images with "
                             f"x / 127.5 - 1).")
        if x.shape.rank != 4 or not x.shape[1:].is_compatible_with(self.image_shape):
            raise ValueError(f"expected images of shape {expected}, got {x.shape}.")
        if not x.shape[1:].is_fully_defined():
            # fit() retraces with relaxed shapes (reduce_retracing), so a second fit
            # on wrong data may only be caught at run time.
            x = tf.ensure_shape(x, (None,) + self.image_shape,
                                name=f"expected_images_of_shape_batch_{self.image_size}"
                                     f"x{self.image_size}x{self.channels}")
        return tf.cast(x, tf.float32)

    def _global_z(self, local_batch, ctx, counter):
        """This replica's slice of the global batch's z (see class docstring)."""
        n = ctx.num_replicas_in_sync
        z = self.sample_z(local_batch * n, self.seed, counter)
        start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
        return z[start:start + local_batch]


    def _report(self, values):
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        logs["k"] = tf.convert_to_tensor(self.k)
        return {name: logs[name] for name in self.metric_names()}

    # ------------------------------------------------------------------ steps
    def compute_began_losses(self, x, z, training):
        """Forward pass: L(x), L(G(z)) and the images involved.

        Returns a dict with ``loss_real``, ``loss_fake`` (scalars, this replica's
        batch means), ``fake`` = G(z).
        """
        fake = self.generator(z, training=training)
        loss_real = tf.reduce_mean(self.distance(x, self.discriminator(x, training=training)))
        loss_fake = tf.reduce_mean(self.distance(fake, self.discriminator(fake, training=training)))
        return {"loss_real": loss_real, "loss_fake": loss_fake, "fake": fake}

    def discriminator_extra_loss(self, x, training):
        """Extra discriminator terms (zero here; the denoising variant adds one)."""
        del x, training
        return tf.constant(0.0)

    def begin_train_step(self, data):
        """Common start of a train step: checks compile, takes the images.

        Returns ``(x, replica_context, step)``, ``step`` being the optimizer
        iteration count that keys this step's stateless noise.
        """
        self.require_compiled()
        return self._check_images(data), replica_context(), self.step_counter()

    def train_step(self, data):
        x, ctx, step = self.begin_train_step(data)
        n_rep = ctx.num_replicas_in_sync
        z = self._global_z(tf.shape(x)[0], ctx, step)
        k = tf.convert_to_tensor(self.k)

        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_began_losses(x, z, training=True)
            d_real = out["loss_real"] + self.discriminator_extra_loss(x, training=True)
            # Per-replica means; the optimizer sums over replicas. scale_loss is
            # the float16 loss scale S (identity otherwise); apply divides by S.
            d_real_scaled = self.d_optimizer.scale_loss(d_real / n_rep)
            g_scaled = self.g_optimizer.scale_loss(out["loss_fake"] / n_rep)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        # L_D = d_real - k L(G(z)): one backward pass of L(G(z)) through D serves D
        # (times -k) and G (tfbegan.models.gradients).
        k_ratio = -k * loss_scale_ratio(self.d_optimizer, self.g_optimizer)
        d_grads, g_grads = began_gradients(tape, d_real_scaled, g_scaled, k_ratio,
                                           d_vars, g_vars, [out["fake"]])
        del tape
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars, strict=True))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars, strict=True))
        self.update_generator_ema()
        d_loss = d_real - k * out["loss_fake"]
        g_loss = out["loss_fake"]

        values = all_mean(ctx, {"loss_real": out["loss_real"],
                                      "loss_fake": out["loss_fake"],
                                      "d_loss": d_loss, "g_loss": g_loss})
        values.update(self.update_k(k, values))
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self._report(values)

    def update_k(self, k, values):
        """Assigns k_{t+1} from the all-reduced losses; returns extra metrics.

        Proportional control (sec. 3.4); every replica computes the same value.
        With ``controller="pid"``, Khan et al. 2018's PID update (Eq. 12) driven by BEGAN's
        error ``e_t = gamma L(x) - L(G(z))``, reported as ``e_t``.
        """
        if self.controller == "pid":
            return self.pid_step(k, equilibrium.balance(
                values["loss_real"], values["loss_fake"], self.gamma))
        self.k.assign(equilibrium.proportional_update(
            k, values["loss_real"], values["loss_fake"], self.gamma, self.lambda_k))
        return {}

    def pid_step(self, k, e_t):
        """Assigns ``k_t = pid_update(k, e_t, e_{t-1}, e_{t-2})`` and shifts the past
        errors (Khan et al. 2018, Eq. 12); returns ``{"e_t": e_t}`` for the metrics."""
        e1 = tf.convert_to_tensor(self.e_prev1)
        e2 = tf.convert_to_tensor(self.e_prev2)
        self.k.assign(equilibrium.pid_update(k, e_t, e1, e2, self.pid_gains))
        self.e_prev2.assign(e1)
        self.e_prev1.assign(e_t)
        return {"e_t": e_t}

    def test_step(self, data):
        x = self._check_images(data)
        ctx = replica_context()
        # A fixed z per evaluation batch position: comparable across evaluations.
        z = self._global_z(tf.shape(x)[0], ctx, -1)
        out = self.compute_began_losses(x, z, training=False)
        k = tf.convert_to_tensor(self.k)
        values = all_mean(ctx, {
            "loss_real": out["loss_real"], "loss_fake": out["loss_fake"],
            "d_loss": out["loss_real"] - k * out["loss_fake"],
            "g_loss": out["loss_fake"]})
        if self.controller == "pid":
            values["e_t"] = equilibrium.balance(values["loss_real"], values["loss_fake"],
                                                self.gamma)
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self._report(values)

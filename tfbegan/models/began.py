"""BEGAN: Boundary Equilibrium GAN (Berthelot, Schumm, Metz 2017; Berthelot et al. 2017)."""

from __future__ import annotations

import keras
import tensorflow as tf

import tfbegan.models.augment as augment_lib
import tfbegan.models.ema as ema
from tfbegan.checks import CONTROLLERS, DEFAULT_PID_GAINS, check_pid_gains
from tfbegan.losses import equilibrium
from tfbegan.losses.distances import make_distance
from tfbegan.models.base import GANModel, all_mean, replica_context
from tfbegan.models.config import ModelConfig
from tfbegan.models.gradients import began_gradients, loss_scale_ratio
from tfbegan.networks.began import build_discriminator, build_generator

DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_BETA1 = 0.5


@keras.saving.register_keras_serializable(package="tfbegan")
class BEGAN(GANModel):
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
    * ``augment`` (DiffAugment, Zhao et al. 2020; ``tfbegan.models.augment``): in
      training steps D sees T(x) and T(G(z)), each batch with its own random draw,
      so every L(x) and L(G(z)) above reads L(T(x)) = |T(x) - D(T(x))|^eta and
      L(T(G(z))), k and M_global included; G's gradient runs back through T.

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
      augment: DiffAugment policies, comma-separated from ``color``, ``translation``,
        ``cutout`` (Zhao et al. 2020), applied in that order; ``""`` = off (default).

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

    optimizer_networks = (("d", "discriminator"), ("g", "generator"))
    default_learning_rate = DEFAULT_LEARNING_RATE
    default_beta1 = DEFAULT_BETA1

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, gamma=0.5, lambda_k=0.001, eta=1, k_init=0.0, seed=0,
                 distance=None, controller="proportional",
                 pid_gains=DEFAULT_PID_GAINS, batch_norm=False,
                 skip_connections=False, architecture="began", generator_ema=0.0, augment="",
                 **kwargs):
        # Validate before any variable exists.
        config = ModelConfig(image_size=image_size, channels=channels, filters=filters,
                             repeats=repeats, z_dim=z_dim, h_dim=h_dim, gamma=gamma,
                             lambda_k=lambda_k, eta=eta, k_init=k_init,
                             batch_norm=batch_norm, skip_connections=skip_connections,
                             architecture=architecture, generator_ema=generator_ema)
        distance_fn = make_distance(distance, eta, channels=channels)  # validates the spec
        if controller not in CONTROLLERS:
            raise ValueError(f"controller={controller!r} is not supported; allowed: "
                             f"{CONTROLLERS}.")
        pid_gains = check_pid_gains(pid_gains)
        augmenter = augment_lib.DiffAugment(augment, image_size, seed)  # validates
        super().__init__(**kwargs)
        self.init_backbone(config, seed)
        self.gamma = float(gamma)
        self.lambda_k = float(lambda_k)
        self.eta = eta
        self.k_init = float(k_init)
        self.distance_spec = distance_fn.spec  # canonical string: dicts round-trip
        self._distance_fn = distance_fn
        self.controller = controller
        self.pid_gains = pid_gains
        self.batch_norm = config.batch_norm
        self.skip_connections = config.skip_connections
        self.architecture = config.architecture
        self.generator_ema = config.generator_ema
        self._augmenter = augmenter
        self.augment = augmenter.spec  # canonical: "color, cutout" is "color,cutout"

        self.generator = build_generator(config)
        self.discriminator = build_discriminator(config)
        if self.generator_ema > 0:
            self.ema_generator = ema.build_shadow(self.generator,
                                                  lambda: build_generator(config))
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
        self.finish_init()

    def metric_names(self):
        """Names of the values each step reports (``k`` is the current value).

        With ``controller="pid"`` the equilibrium error ``e_t`` is reported too.
        """
        names = ("loss_real", "loss_fake", "d_loss", "g_loss", "k", "m_global")
        if getattr(self, "controller", None) == "pid":
            names += ("e_t",)
        return names

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Attaches one optimizer per network (Adam(1e-4, beta1=0.5) by default),
        each built on its variables inside the model's strategy scope."""
        self.compile_networks({"d": d_optimizer, "g": g_optimizer}, kwargs)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update(
            image_size=self.image_size, channels=self.channels, filters=self.filters,
            repeats=self.repeats, z_dim=self.z_dim, h_dim=self.h_dim, gamma=self.gamma,
            lambda_k=self.lambda_k, eta=self.eta, k_init=self.k_init, seed=self.seed,
            distance=self.distance_spec, controller=self.controller,
            pid_gains=list(self.pid_gains), batch_norm=self.batch_norm,
            skip_connections=self.skip_connections, architecture=self.architecture,
            generator_ema=self.generator_ema, augment=self.augment)
        return config

    def distance(self, v, reconstruction):
        """Per-sample auto-encoder loss L (pixel loss with exponent eta by default,
        or the weighted distance spec given as ``distance``)."""
        return self._distance_fn(v, reconstruction)

    def reconstruct(self, x):
        """D(x), the discriminator's auto-encoding, in inference mode."""
        return self.discriminator(self.check_images(x), training=False)

    # ------------------------------------------------------------------ steps
    def compute_losses(self, x, z, k, training, augment=None):
        """The step's forward pass and every loss, for ``train_step`` and ``test_step``.

        ``augment``: the step's DiffAugment draws (``DiffAugment.step_params``; None
        in evaluation), applied to x and to G(z) between G and D: the losses are then
        L(T(x)) and L(T(G(z))), and ``fake`` stays G(z), so the gradient with respect
        to it includes T's.

        Returns a dict: ``fake`` = G(z); ``d_real``, L_D's terms without L(G(z))
        (here L(x)); ``loss_fake`` = L(G(z)); ``g_extra``, L_G's terms beside L(G(z))
        (here 0); and ``values``, the reported scalars of this replica's batch
        (``loss_real``, ``loss_fake``, ``d_loss = d_real - k L(G(z))``,
        ``g_loss = L(G(z)) + g_extra``).
        """
        fake = self.generator(z, training=training)
        x, seen = self._augmenter.pair(augment, x, fake)
        loss_real = tf.reduce_mean(self.distance(x, self.discriminator(x, training=training)))
        loss_fake = tf.reduce_mean(self.distance(seen, self.discriminator(seen, training=training)))
        return {"fake": fake, "d_real": loss_real, "loss_fake": loss_fake,
                "g_extra": tf.constant(0.0),
                "values": {"loss_real": loss_real, "loss_fake": loss_fake,
                           "d_loss": loss_real - k * loss_fake, "g_loss": loss_fake}}

    def step_inputs(self, x, ctx, counter):
        """``(z,)`` plus any other noise the step draws at ``counter`` (this replica's
        slice of the global batch's draw); ``compute_losses`` takes them in order."""
        return (self.global_z(tf.shape(x)[0], ctx, counter),)

    @property
    def single_backward_pass(self):
        """Whether one backward pass of L(G(z)) through D on G(z) serves D and G:
        true when D treats G(z) apart from the real batch (see gradients.py)."""
        return True

    def train_step(self, data):
        """One equilibrium step: D minimises ``L_D = d_real - k_t L(G(z))``, G minimises
        ``L_G = L(G(z)) + g_extra`` (each only its own loss, footnote 2), then
        ``k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)`` and
        ``M_global = L(x) + |gamma L(x) - L(G(z))|`` from the all-reduced losses;
        with ``augment`` every L is L(T(.)) (class docstring)."""
        self.require_compiled()
        x = self.check_images(data)
        ctx = replica_context()
        n_rep = ctx.num_replicas_in_sync
        k = tf.convert_to_tensor(self.k)
        counter = self.step_counter()
        inputs = self.step_inputs(x, ctx, counter)
        views = self._augmenter.step_params(tf.shape(x)[0], ctx, counter)
        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_losses(x, *inputs, k, training=True, augment=views)
            # Per-replica means, as the optimizers sum over replicas; scale_loss is the
            # float16 loss scale S (identity otherwise), which apply divides out.
            d_real = self.d_optimizer.scale_loss(out["d_real"] / n_rep)
            g_fake = self.g_optimizer.scale_loss(out["loss_fake"] / n_rep)
            g_extra = self.g_optimizer.scale_loss(out["g_extra"] / n_rep)
            if not self.single_backward_pass:  # L_D and L_G, each with its own pass
                d_loss = self.d_optimizer.scale_loss(out["values"]["d_loss"] / n_rep)
                g_loss = self.g_optimizer.scale_loss(out["values"]["g_loss"] / n_rep)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        if self.single_backward_pass:
            k_ratio = -k * loss_scale_ratio(self.d_optimizer, self.g_optimizer)
            d_grads, g_grads = began_gradients(tape, d_real, g_fake, k_ratio, d_vars,
                                               g_vars, [out["fake"]], [g_extra])
        else:
            d_grads = tape.gradient(d_loss, d_vars)
            g_grads = tape.gradient(g_loss, g_vars)
        del tape
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars, strict=True))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars, strict=True))
        if self.ema_generator is not None:
            ema.update_shadow(self.ema_generator, self.generator, self.generator_ema,
                              self.g_optimizer.iterations)
        values = all_mean(ctx, out["values"])
        values.update(self.update_k(k, values))
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self.report(values)

    def test_step(self, data):
        """The step's losses in inference mode, with z (and noise) fixed per batch
        position (counter -1), so evaluations are comparable."""
        x = self.check_images(data)
        ctx = replica_context()
        k = tf.convert_to_tensor(self.k)
        out = self.compute_losses(x, *self.step_inputs(x, ctx, -1), k, training=False)
        values = all_mean(ctx, out["values"])
        if self.controller == "pid":
            values["e_t"] = equilibrium.balance(values["loss_real"], values["loss_fake"],
                                                self.gamma)
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self.report(values)

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

"""VAE+BEGAN: adversarial training of a VAE against an auto-encoder discriminator.

Khan, Hayat, Barnes, "Adversarial Training of Variational Auto-encoders for High
Fidelity Image Generation" (Khan et al. 2018): a VAE whose decoder is the generator, BEGAN's
auto-encoder discriminator, a learned similarity metric in the discriminator's latent
space, and a PID-style k_t controller.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbegan.checks import DEFAULT_PID_GAINS, check_pid_gains, check_weight
from tfbegan.losses import equilibrium
from tfbegan.losses.distances import pixel_distance
from tfbegan.losses.terms import gaussian_kl, l1_mean
from tfbegan.models.base import all_mean, replica_context
from tfbegan.models.began import BEGAN
from tfbegan.models.gradients import (
    add_scaled,
    backward_through,
    loss_scale_ratio,
    shared_fake_backward,
)
from tfbegan.networks.began import build_dcgan_encoder, build_encoder

#: Khan et al. 2018, sec. 4: "Adam optimizer initialized with a small learning rate of 5e-5".
DEFAULT_LEARNING_RATE = 5e-5


#: BEGAN arguments VAEBEGAN does not use; passing one is an error, not a silent no-op.
UNUSED_BEGAN_ARGUMENTS = ("controller", "lambda_k", "batch_norm", "skip_connections",
                          "generator_ema")

#: How L_n is normalised: "sum" over latent dimensions (Eq. 3 as printed, the
#: default), or "per_pixel": that sum divided by the number of pixel values |x|, the
#: scale of Eq. 2's per-pixel mean L_e (together they are the negative ELBO of a
#: Laplace decoder divided by |x|).
KL_SCALES = ("sum", "per_pixel")


@keras.saving.register_keras_serializable(package="tfbegan")
class VAEBEGAN(BEGAN):
    """VAE generator + auto-encoder discriminator + PID equilibrium (Khan et al. 2018).

    Networks (all with the BEGAN backbone, sec. 4):

    * ``encoder`` E: image -> ``[mu, log sigma^2]`` (a BEGAN encoder whose final
      Dense has ``2 * z_dim`` units); ``z_v = mu + eps * sigma``, eps ~ N(0, I) (Eq. 4).
    * ``generator`` G (the VAE decoder): z -> image; ``x_v = G(z_v)``,
      ``x_g = G(z_g)`` with z_g ~ N(0, I) (``prior = "normal"``).
    * ``discriminator`` D = D_dec(D_enc(.)), BEGAN's auto-encoder;
      ``z_d = D_enc(x)``, ``z'_v = D_enc(x_v)``, ``x'_* = D(x_*)``.

    Losses of one training step (Algorithm 1; scalars are batch means):

    ========  =========================================  =====================
    metric    paper term                                 definition
    ========  =========================================  =====================
    recon_l1  L_e (Eq. 2)                                mean |x - x_v| (BiGAN's and
                                                         AGE's name for it)
    loss_n    L_n (Eq. 3)                                :func:`gaussian_kl`
    loss_real L_d (Eq. 7)                                mean |x - x'_d|
    loss_fake L_g (Eq. 7)                                mean |x_g - x'_g|
    loss_v    L_v (Eq. 7)                                mean |x_v - x'_v|
    loss_s    L_s (Eq. 9)                                mean |z_d - z'_v|
    d_loss    L_dis (Eq. 13), trains D only              L_d - k_{t-1}(L_g + alpha L_v)
    g_loss    L_gen (Eq. 14), trains G only              L_g + alpha L_v + beta L_s + gamma L_e
    e_loss    L_enc (Eq. 15), trains E only              w_n L_n + beta L_s + gamma L_e
    e_t       Eq. 11 (sign typo corrected)          eta L_d - L_g - alpha L_v
    k         k_t after this step (Eq. 12, clipped)
    m_global  convergence measure (sec. 3.4)             L_d + |e_t|
    ========  =========================================  =====================

    (Eq. 7 prints ``L_g = ||x - x'_g||``; the text and Fig. 1 define it on the
    generated images, as here.) All three gradients come from one forward pass, each
    of its own loss with respect to its own network's variables only, and D's loss
    uses ``k_{t-1}`` (Eq. 13); one backward pass through D on x_g and x_v serves D
    and G (:meth:`_gradients`). Then ``k_t = clip(k_{t-1} + l1 e_t + l2 (e_t - e_{t-1})
    + l3 (e_t + e_{t-2} - 2 e_{t-1}), 0, 1)`` with ``e_{t-1}``, ``e_{t-2}`` kept as
    non-trainable weights ``e_prev1``, ``e_prev2`` that start at 0 and are saved in
    ``.keras`` checkpoints.

    Distribution follows :class:`~BEGAN`: eps and z_g are drawn for the
    global batch from stateless normals keyed by ``(seed, 2 * step)`` and
    ``(seed, 2 * step + 1)`` and sliced per replica; gradients of per-replica means
    are divided by the replica count; metrics and the k update use all-reduced values.

    **Augmentation** (``augment``, DiffAugment, Zhao et al. 2020): only what D sees
    is transformed, in training steps. The real batch and its VAE reconstruction
    share one draw T_r, the prior samples have their own T_g: L_d = |T_r(x) -
    D(T_r(x))|, L_v = |T_r(x_v) - D(T_r(x_v))|, L_g = |T_g(x_g) - D(T_g(x_g))|, L_s =
    |D_enc(T_r(x)) - D_enc(T_r(x_v))| (a pair compared alike); e_t, k and the
    convergence measure use these. E sees x and L_e = |x - x_v| and L_n are unchanged.

    Naming: ``alpha, beta, gamma, eta`` are Khan et al. 2018's (eta is the diversity ratio
    that BEGAN calls gamma; gamma weights L_e). The pixel losses are l1 (BEGAN's
    exponent 1); ``distance`` swaps in another per-sample distance for L_d, L_g, L_v.

    Args:
      image_size, channels, filters, repeats, z_dim, h_dim, seed: the BEGAN backbone
        (see :class:`~BEGAN`); h_dim is the size of z_d.
      alpha: weight of L_v (0.3). beta: weight of L_s (0.1). gamma: weight of L_e
        (0.1). eta: diversity ratio in (0, 1] (0.5). All from sec. 4.
      pid_gains: (lambda_1, lambda_2, lambda_3), sec. 4: (1e-3, 1e-5, 1e-5).
      k_init: k_0 in [0, 1].
      kl_weight: w_n, the weight of L_n in L_enc; 1 is the paper's Eq. 15. Not in
        the paper: with L_e a per-pixel mean (Eq. 2) and L_n a sum over latent
        dimensions (Eq. 3), short runs on the embedded digits collapse the posterior
        (every mu near 0, attribute vectors near 0); w_n around 1e-3 (with gamma 1)
        keeps the encoder informative there.
      kl_scale: ``"sum"`` (Eq. 3, default) or ``"per_pixel"``: L_n divided by the
        number of pixel values |x| = S * S * C, the normalisation of L_e (Eq. 2).
        Not in the paper. With the sum, L_n outweighs the per-pixel means by
        about |x| / N_z (32x on the 32x32 digits with N_z 32, far more in
        gradient) and the encoder collapses to the prior (every mu near 0).
      architecture: ``"began"`` (default, the paper's backbone) or ``"dcgan"``: G
        and D as :class:`~BEGAN`'s DCGAN-style pair and E as D's DCGAN-style
        encoder (without batch norm) to ``2 * z_dim``; not in the paper (a cheaper
        network for short CPU runs, ``--vae_architecture``).
      warmup_steps: VAE warm-up, not in the paper: for the first ``warmup_steps``
        steps G's loss leaves out the adversarial part ``L_g + alpha L_v`` (G and
        E train as a VAE on ``beta L_s + gamma L_e`` and L_n, D as BEGAN's
        auto-encoder on L_d; k follows its controller). 0 (default) = off.
      augment: DiffAugment policies as :class:`~BEGAN` (``""`` = off; see above).

    Example:

    ```python
    model = VAEBEGAN(image_size=64, channels=3, filters=64, z_dim=64, h_dim=64)
    model.compile(**model.make_optimizers())
    model.fit(images_in_minus1_1, epochs=1, steps_per_epoch=100)
    z = model.encode(images)            # mu of q(z | x)
    edited = model.generate(z + 1.5 * attribute_vector)
    ```

    Reference: Khan, Hayat, Barnes, "Adversarial Training of Variational
    Auto-encoders for High Fidelity Image Generation" (WACV 2018), Khan et al. 2018.
    """

    prior = "normal"
    has_encoder = True

    def __init__(self, image_size=64, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, alpha=0.3, beta=0.1, gamma=0.1, eta=0.5,
                 pid_gains=DEFAULT_PID_GAINS, k_init=0.0, seed=0,
                 distance=None, kl_weight=1.0, kl_scale="sum", warmup_steps=0,
                 **kwargs):
        # The loss weights (Khan et al. 2018 sec. 4), each in [0, inf).
        weights = {name: check_weight(name, value) for name, value in (
            ("alpha", alpha), ("beta", beta), ("gamma", gamma), ("kl_weight", kl_weight))}
        if kl_scale not in KL_SCALES:
            raise ValueError(f"kl_scale={kl_scale!r}; allowed: {', '.join(KL_SCALES)}.")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) \
                or warmup_steps < 0:
            raise ValueError(f"warmup_steps={warmup_steps!r} is out of range; allowed: "
                             f"an integer >= 0.")
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) \
                or not (0.0 < eta <= 1.0):
            raise ValueError(f"eta={eta!r} is out of range; allowed: (0, 1] "
                             f"(the diversity ratio of Khan et al. 2018, Eq. 10).")
        pid_gains = check_pid_gains(pid_gains)
        for name in UNUSED_BEGAN_ARGUMENTS:
            if name in kwargs:
                raise ValueError(
                    f"{name}={kwargs[name]!r}: VAEBEGAN does not take {name!r} (its k "
                    f"controller is always Khan et al. 2018's PID, set with pid_gains; "
                    f"its networks have no batch-norm, skip-connection or EMA options).")
        # BEGAN's gamma is the diversity ratio (our eta); its eta is the pixel
        # exponent (1: the paper's l1).
        super().__init__(image_size=image_size, channels=channels, filters=filters,
                         repeats=repeats, z_dim=z_dim, h_dim=h_dim, gamma=float(eta),
                         lambda_k=pid_gains[0], eta=1, k_init=k_init, seed=seed,
                         distance=distance, controller="pid", pid_gains=pid_gains,
                         **kwargs)
        for name, value in weights.items():  # gamma: L_e's weight, not BEGAN's ratio
            setattr(self, name, value)
        self.eta = float(eta)
        self.kl_scale = kl_scale
        self.warmup_steps = warmup_steps
        self.encoder = self.build_encoder_network(self.model_config)

    # ------------------------------------------------------------------ networks
    def build_encoder_network(self, config):
        """E: image -> [mu, log sigma^2] (``2 * z_dim``), BEGAN's encoder backbone
        (``architecture="dcgan"``: the DCGAN-style encoder of D, without batch norm)."""
        config = config.replace(h_dim=2 * config.z_dim)
        if config.architecture == "dcgan":
            return build_dcgan_encoder(config.replace(batch_norm=False), name="vae_encoder")
        return build_encoder(config, name="vae_encoder")

    @property
    def discriminator_encoder(self):
        """D's encoder: image -> z_d (its latent is used by L_s, Eq. 9)."""
        return self.discriminator.get_layer("encoder")

    @property
    def discriminator_decoder(self):
        """D's decoder: z_d -> image."""
        return self.discriminator.get_layer("decoder")

    def metric_names(self):
        return ("loss_real", "loss_fake", "loss_v", "recon_l1", "loss_n", "loss_s",
                "d_loss", "g_loss", "e_loss", "k", "e_t", "m_global")

    # ------------------------------------------------------------------ compile
    # D first, as in BEGAN: its iterations count the steps (and key eps, z_g).
    optimizer_networks = (("d", "discriminator"), ("g", "generator"), ("e", "encoder"))
    default_learning_rate = DEFAULT_LEARNING_RATE

    def compile(self, e_optimizer=None, g_optimizer=None, d_optimizer=None, **kwargs):
        """Attaches one optimizer per network (Adam(5e-5, beta1=0.5) by default, Khan
        et al. 2018 sec. 4) and builds each on its variables inside the strategy scope."""
        self.compile_networks({"e": e_optimizer, "g": g_optimizer, "d": d_optimizer},
                              kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "image_size": self.image_size, "channels": self.channels,
                "filters": self.filters, "repeats": self.repeats, "z_dim": self.z_dim,
                "h_dim": self.h_dim, "alpha": self.alpha, "beta": self.beta,
                "gamma": self.gamma, "eta": self.eta, "pid_gains": list(self.pid_gains),
                "k_init": self.k_init, "seed": self.seed, "distance": self.distance_spec,
                "kl_weight": self.kl_weight, "kl_scale": self.kl_scale,
                "warmup_steps": self.warmup_steps, "architecture": self.architecture,
                "augment": self.augment}

    # ------------------------------------------------------------------ encoder
    def encode_stats(self, images, training=False):
        """``(mu, log sigma^2)`` of q(z | x), each ``[batch, z_dim]``."""
        # float32 under mixed precision: the reparameterisation and KL need it.
        stats = tf.cast(self.encoder(self.check_images(images), training=training),
                        tf.float32)
        return stats[:, :self.z_dim], stats[:, self.z_dim:]

    def encode(self, images):
        """images in [-1, 1] -> mu, the mean of q(z | x) (deterministic; sec. 5.5)."""
        return self.encode_stats(images)[0]

    def reconstruct_vae(self, images):
        """``G(mu(x))``: the VAE's own reconstruction, in inference mode."""
        return self.generator(self.encode(images), training=False)

    # ------------------------------------------------------------------ steps
    def compute_vae_losses(self, x, eps, z_g, k, training, augment=None):
        """Forward pass of Algorithm 1 (lines 3-10) and every loss term.

        Args:
          x: real images. eps: N(0, I) noise for Eq. 4. z_g: latents from the prior.
          k: k_{t-1}, used by L_dis (Eq. 13).
          augment: the step's DiffAugment draws (real, fake) or None (class docstring).

        Returns:
          dict of scalar tensors named as in the class docstring (this replica's
          batch means), plus ``adversarial`` (``L_g + alpha L_v``), ``shared``
          (``beta L_s + gamma L_e``), ``mu``, ``log_var``, ``x_v``, ``x_g``.
        """
        mu, log_var = self.encode_stats(x, training=training)
        z_v = mu + eps * tf.exp(0.5 * log_var)
        x_v = self.generator(z_v, training=training)
        x_g = self.generator(z_g, training=training)
        # What D sees: x and x_v under one draw (L_s compares them), x_g under its own.
        real_params, fake_params = augment if augment is not None else (None, None)
        seen_x, seen_v = (self._augmenter(v, real_params) for v in (x, x_v))
        seen_g = self._augmenter(x_g, fake_params)
        d_enc, d_dec = self.discriminator_encoder, self.discriminator_decoder
        z_d = d_enc(seen_x, training=training)
        z_g_d = d_enc(seen_g, training=training)
        z_v_d = d_enc(seen_v, training=training)
        loss_real = tf.reduce_mean(self.distance(seen_x, d_dec(z_d, training=training)))
        loss_fake = tf.reduce_mean(self.distance(seen_g, d_dec(z_g_d, training=training)))
        loss_v = tf.reduce_mean(self.distance(seen_v, d_dec(z_v_d, training=training)))
        loss_e = tf.reduce_mean(pixel_distance(x, x_v, 1))
        loss_n = gaussian_kl(mu, log_var)
        if self.kl_scale == "per_pixel":
            loss_n = loss_n / float(self.image_size * self.image_size * self.channels)
        loss_s = l1_mean(z_d, z_v_d)
        adversarial = loss_fake + self.alpha * loss_v
        # The terms L_gen and L_enc share; they reach G and E only through x_v.
        shared = self.beta * loss_s + self.gamma * loss_e
        return {
            "loss_real": loss_real, "loss_fake": loss_fake, "loss_v": loss_v,
            "recon_l1": loss_e, "loss_n": loss_n, "loss_s": loss_s,
            "d_loss": loss_real - k * adversarial,
            "g_loss": adversarial + shared,
            "e_loss": self.kl_weight * loss_n + shared,
            "adversarial": adversarial, "shared": shared,
            "mu": mu, "log_var": log_var, "x_v": x_v, "x_g": x_g,
        }

    _SCALARS = ("loss_real", "loss_fake", "loss_v", "recon_l1", "loss_n", "loss_s",
                "d_loss", "g_loss", "e_loss")

    def _noise(self, local_batch, ctx, step):
        """(eps, z_g) for this replica: slices of global-batch stateless normals."""
        eps = self.global_z(local_batch, ctx, 2 * step + 1)
        z_g = self.global_z(local_batch, ctx, 2 * step)
        return eps, z_g

    def train_step(self, data):
        self.require_compiled()
        x = self.check_images(data)
        ctx = replica_context()
        n_rep = ctx.num_replicas_in_sync
        step = tf.cast(self.step_counter(), tf.int64)
        eps, z_g = self._noise(tf.shape(x)[0], ctx, step)
        views = self._augmenter.step_params(tf.shape(x)[0], ctx, step)
        k = tf.convert_to_tensor(self.k)
        # VAE warm-up: 0 on G's adversarial terms (and D's -k part) while step < N.
        adversarial_on = tf.cast(step >= self.warmup_steps, tf.float32)

        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_vae_losses(x, eps, z_g, k, training=True, augment=views)
            # Per-replica means; the optimizers sum over replicas.
            # scale_loss: the float16 loss scale S (identity otherwise).
            scaled = {
                "d_real": self.d_optimizer.scale_loss(out["loss_real"] / n_rep),
                "g_adversarial": self.g_optimizer.scale_loss(
                    adversarial_on * out["adversarial"] / n_rep),
                "g_shared": self.g_optimizer.scale_loss(out["shared"] / n_rep),
                "e_kl": self.e_optimizer.scale_loss(self.kl_weight * out["loss_n"] / n_rep)}
        grads = self._gradients(tape, out, scaled, k)
        del tape
        for name, network in self.optimizer_networks:
            variables = getattr(self, network).trainable_variables
            optimizer = getattr(self, f"{name}_optimizer")
            optimizer.apply_gradients(zip(grads[name], variables, strict=True))

        values = all_mean(ctx, {n: out[n] for n in self._SCALARS})
        values.update(self.update_k(k, values))
        values["m_global"] = equilibrium.vae_began_convergence(
            values["loss_real"], values["loss_fake"], values["loss_v"], self.eta,
            self.alpha)
        return self.report(values)

    def _gradients(self, tape, out, scaled, k):
        """Each network's gradient of its own loss (Eqs. 13-15), with one backward
        pass through D on x_g and x_v (:mod:`tfbegan.models.gradients`).

        On x_g and x_v, L_dis contains ``-k (L_g + alpha L_v)`` and L_gen contains
        ``L_g + alpha L_v``: one backward pass of the latter gives D's part (times
        ``-k``) and the gradients with respect to x_g, x_v that G continues with. The
        shared terms ``beta L_s + gamma L_e`` reach G and E only through x_v, so
        their gradient with respect to x_v is taken once and fed to both.
        """
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        e_vars = self.encoder.trainable_variables
        fakes = [out["x_g"], out["x_v"]]
        d_adv, (ct_g, ct_v) = shared_fake_backward(tape, scaled["g_adversarial"], d_vars,
                                                   fakes)
        d_grads = add_scaled(tape.gradient(scaled["d_real"], d_vars), d_adv,
                             -k * loss_scale_ratio(self.d_optimizer, self.g_optimizer))
        ct_shared = tape.gradient(scaled["g_shared"], out["x_v"])
        g_grads = backward_through(tape, fakes, [ct_g, ct_v + ct_shared], g_vars)
        e_ratio = loss_scale_ratio(self.e_optimizer, self.g_optimizer)
        e_grads = backward_through(tape, [out["x_v"]],
                                   [ct_shared * tf.cast(e_ratio, ct_shared.dtype)],
                                   e_vars, [scaled["e_kl"]])
        return {"d": d_grads, "g": g_grads, "e": e_grads}

    def equilibrium_error(self, values):
        """``e_t = eta L_d - L_g - alpha L_v`` (Eq. 11 with its sign typo corrected)."""
        return equilibrium.vae_began_error(values["loss_real"], values["loss_fake"],
                                           values["loss_v"], self.eta, self.alpha)

    def update_k(self, k, values):
        """PID update of k (Eq. 12) from the all-reduced losses; reports ``e_t``."""
        return self.pid_step(k, self.equilibrium_error(values))

    def test_step(self, data):
        x = self.check_images(data)
        ctx = replica_context()
        # Fixed noise per evaluation batch position: comparable across evaluations.
        eps, z_g = self._noise(tf.shape(x)[0], ctx, tf.constant(-1, tf.int64))
        k = tf.convert_to_tensor(self.k)
        out = self.compute_vae_losses(x, eps, z_g, k, training=False)
        values = all_mean(ctx, {n: out[n] for n in self._SCALARS})
        values["e_t"] = self.equilibrium_error(values)
        values["m_global"] = values["loss_real"] + tf.abs(values["e_t"])
        return self.report(values)

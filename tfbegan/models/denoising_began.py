"""Denoising BEGAN with batch norm, skip connections and historical averaging (Li et al. 2018)."""

from __future__ import annotations

import keras
import tensorflow as tf

import tfbegan.models.priors as priors
from tfbegan.checks import check_range
from tfbegan.losses import equilibrium
from tfbegan.losses.terms import (
    denoising_loss,
)
from tfbegan.models.base import all_mean, replica_context
from tfbegan.models.began import BEGAN
from tfbegan.models.denoising_parts import CodeTermsMixin, HistoricalAveragingMixin
from tfbegan.models.gradients import began_gradients, loss_scale_ratio

#: How D's batch norm groups a training step's images: "joint" (one set of batch
#: statistics over [x, x + n, G(z)], the default) or "separate" ([x, x + n] and G(z)
#: each normalized by its own statistics, as DCGAN-style GANs run D).
BN_STATISTICS = ("joint", "separate")

#: Salt folded into the (seed, step) key of the corruption noise, so that the noise
#: stream is independent of the z stream, which uses the same (seed, step) key.
NOISE_SALT = 0x6E6F6973  # "nois"


@keras.saving.register_keras_serializable(package="tfbegan")
class DenoisingBEGAN(HistoricalAveragingMixin, CodeTermsMixin, BEGAN):
    """BEGAN with a denoising discriminator loss and Li et al. 2018's options.

    Implements Li et al. 2018 (Eq. 6, Fig. 3, Table 1):

    * ``L_D = L(x) - k_t L(G(z)) + lambda_noise * mean((D(x + n) - x)^2)``,
      ``n ~ N(0, noise_std^2)`` (Eq. 6; Li et al. 2018 use lambda_noise = 2, sigma = 1).
      ``L_G = L(G(z))`` and the k update are BEGAN's, unchanged.
    * ``batch_norm``: conv -> batch norm -> ELU at the last (paper: second)
      convolution of each block in encoder, decoder and generator (Fig. 3), with
      synchronized statistics under ``MirroredStrategy``.
    * ``skip_connections``: H0 up-sampled and concatenated with each up-sampled
      tensor of decoder and generator ("SC", Fig. 3).
    * ``ha_weight``: historical averaging (Salimans et al. 2016, "+HA" in Table 1):
      ``L_D += w ||theta_D - avg(theta_D)||^2`` and ``L_G += w ||theta_G -
      avg(theta_G)||^2``. ``avg`` is the *cumulative mean over all past steps*, as
      in Salimans et al. (``(1/t) sum_{i=1}^t theta[i]``), not an exponential
      average: at training step t (1-based) the average of the parameter values
      theta_0 ... theta_{t-1} seen at the start of steps 1 ... t, including the
      current one, so the penalty is 0 at step 1. Averages and the count are
      non-trainable model weights (in ``.keras`` checkpoints); they exist only when
      ``ha_weight > 0``. The averages are constants for the gradient.

    **Batch statistics in the discriminator.** D sees real, noisy-real and
    generated images. With ``batch_norm``, training runs D *once* on the
    concatenated batch ``[x, x + n, G(z)]`` (``[x, G(z)]`` when ``lambda_noise = 0``),
    so batch norm computes one set of statistics over the three. Reasons: Li et
    al. 2018 describe the discriminator as encoding "all images (including real
    images, noisy real images, and generated images)" in one data flow (Fig. 2b),
    and the reference TensorFlow BEGAN feeds D ``concat([G(z), x])``; one batch also
    makes the moving averages (one update per step) estimate exactly the statistics
    D trains with, whereas three calls would update them three times per step in a
    fixed order and D would see differently normalized inputs at training and
    inference time; and separate statistics would normalize away per-channel
    mean/variance differences between real and generated batches, which D should be
    able to penalize. Under ``MirroredStrategy`` the statistics are those of the
    global concatenated batch (synchronized batch norm), so N replicas equal one
    device.

    **Backward passes.** Without batch norm D is per-sample, so D runs on
    ``[x, x + n]`` and on ``G(z)`` in two calls (the same numbers as one concatenated
    call) and, as in :class:`BEGAN`, one backward pass of ``L(G(z))`` through D on
    ``G(z)`` serves both D (times ``-k``) and G (:mod:`tfbegan.models.gradients`).
    With batch norm every row of D's output depends on every input row, so D's
    cotangent (``L_D``'s) and G's (``L(G(z))``'s) differ on the whole concatenated
    batch: two backward passes are then the fewest, and the step takes them.

    **bn_statistics="separate"** (not in Li et al. 2018; the default is "joint"
    above): D normalizes ``[x, x + n]`` and ``G(z)`` with their own batch
    statistics, in two calls (its moving averages then take two updates per step).
    On the embedded digits the joint statistics keep ``L(G(z))`` above ``L(x)`` from
    the first steps, so ``gamma L(x) - L(G(z)) < 0`` and k stays at 0 (D never pushes
    on generated images and G collapses onto one texture); with separate statistics
    k rises within 100 steps (docs/quality.md, "Presets per model family").

    The corruption noise is drawn like z: statelessly for the *global* batch from
    the key (seed, step) folded with :data:`NOISE_SALT`, then sliced per replica.

    Two options against the drift of small-data runs toward the cheapest digits,
    both off by default (they are not Li et al. 2018's) and both computed on D's
    code h of the generated batch (D then runs as encoder and decoder in turn, the
    same computation):

    * ``pull_away_weight``: ``L_G += w * PT(E(G(z)))``, EBGAN's pull-away term
      (Zhao et al. 2017; :func:`pull_away_term`): G is pushed to samples D encodes
      in different directions. Reported as ``pull_away``.
    * ``latent_constraint_weight``: ``L_D += w * mean |E(G(z)) - z|``, BEGAN-CS's
      constraint (Chang et al. 2018, w = 0.1 there; :func:`latent_constraint`):
      D's encoder must recover z from G(z). Needs ``h_dim == z_dim``. Reported as
      ``latent_constraint``.

    Reported metrics: BEGAN's plus ``loss_denoise`` (unweighted ``L_DAE``, when
    ``lambda_noise > 0``) and ``ha_d`` / ``ha_g`` (unweighted penalties, when
    ``ha_weight > 0``); ``d_loss`` and ``g_loss`` include the weighted terms.

    Args:
      image_size, channels, filters, repeats, z_dim, h_dim, gamma, lambda_k, eta,
        k_init, seed, distance, controller, pid_gains: as :class:`BEGAN`.
      lambda_noise: weight of the denoising term, >= 0 (Li et al. 2018: 2); 0 turns it
        off.
      noise_std: sigma of the Gaussian corruption, >= 0 (Li et al. 2018: 1).
      batch_norm: batch norm after each block's second conv (Li et al. 2018, Fig. 3).
      skip_connections: H0 skip connections in decoder and generator.
      ha_weight: historical-averaging weight, >= 0; 0 = off (Li et al. 2018's "+HA"
        does not give its value).
      bn_statistics: with ``batch_norm``, "joint" (default) or "separate" batch
        statistics for real and generated images in D (see above).
      pull_away_weight: weight of EBGAN's pull-away term in L_G, >= 0; 0 = off.
      latent_constraint_weight: weight of BEGAN-CS's latent constraint in L_D,
        >= 0; 0 = off; needs ``h_dim == z_dim``.

    Example:

    ```python
    model = DenoisingBEGAN(image_size=32, channels=3, filters=64, gamma=1.0)
    model.compile(**model.make_optimizers(1e-4, 0.5))
    model.fit(images_in_minus1_1, epochs=1, steps_per_epoch=100)
    samples = model.generate(16, seed=0)  # batch norm in inference mode
    ```

    Reference: Li, Xiao, Ouyang 2018, "Improved Boundary Equilibrium Generative
    Adversarial Networks", IEEE Access; Salimans et al. 2016,
    https://arxiv.org/abs/1606.03498
    """

    #: train_step differentiates optimizer.scale_loss(loss) (float16 loss scaling).
    scales_losses = True

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, gamma=1.0, lambda_k=0.001, eta=1, k_init=0.0, seed=0,
                 distance=None, controller="proportional", lambda_noise=2.0,
                 noise_std=1.0, batch_norm=True, skip_connections=True, ha_weight=0.0,
                 bn_statistics="joint", architecture="began", pull_away_weight=0.0,
                 latent_constraint_weight=0.0, **kwargs):
        check_range("lambda_noise", lambda_noise, 0.0)
        check_range("pull_away_weight", pull_away_weight, 0.0)
        check_range("latent_constraint_weight", latent_constraint_weight, 0.0)
        if latent_constraint_weight > 0 and h_dim != z_dim:
            raise ValueError(f"latent_constraint_weight={latent_constraint_weight!r} needs "
                             f"h_dim == z_dim (got h_dim={h_dim}, z_dim={z_dim}): D's code "
                             f"of G(z) is compared with z.")
        self.pull_away_weight = float(pull_away_weight)
        self.latent_constraint_weight = float(latent_constraint_weight)
        check_range("noise_std", noise_std, 0.0)
        check_range("ha_weight", ha_weight, 0.0)
        if bn_statistics not in BN_STATISTICS:
            raise ValueError(f"bn_statistics={bn_statistics!r}; allowed: "
                             f"{', '.join(BN_STATISTICS)}.")
        self.bn_statistics = bn_statistics
        # Read by metric_names() during BEGAN.__init__.
        self.lambda_noise = float(lambda_noise)
        self.noise_std = float(noise_std)
        self.ha_weight = float(ha_weight)
        super().__init__(image_size=image_size, channels=channels, filters=filters,
                         repeats=repeats, z_dim=z_dim, h_dim=h_dim, gamma=gamma,
                         lambda_k=lambda_k, eta=eta, k_init=k_init, seed=seed,
                         distance=distance, controller=controller,
                         batch_norm=batch_norm, skip_connections=skip_connections,
                         architecture=architecture, **kwargs)
        self.ha_count = None
        self.ha_avg_d = []
        self.ha_avg_g = []
        if self.ha_weight > 0:
            # "mean": every replica assigns the same value (parameters are mirrored),
            # and replica-context assigns need an aggregation.
            self.ha_count = self.add_weight(
                name="ha_count", shape=(), initializer="zeros", trainable=False,
                aggregation="mean", dtype="float32")
            self.ha_avg_d = [self._average_slot(v, f"ha_avg_d{i}") for i, v in
                             enumerate(self.discriminator.trainable_variables)]
            self.ha_avg_g = [self._average_slot(v, f"ha_avg_g{i}") for i, v in
                             enumerate(self.generator.trainable_variables)]

    def metric_names(self):
        """BEGAN's metrics, plus ``loss_denoise`` and ``ha_d`` / ``ha_g`` when on."""
        names = tuple(super().metric_names())
        if self.lambda_noise > 0:
            names += ("loss_denoise",)
        if self.ha_weight > 0:
            names += ("ha_d", "ha_g")
        if self.pull_away_weight > 0:
            names += ("pull_away",)
        if self.latent_constraint_weight > 0:
            names += ("latent_constraint",)
        return names

    def get_config(self):
        config = super().get_config()
        config.update(lambda_noise=self.lambda_noise, noise_std=self.noise_std,
                      ha_weight=self.ha_weight, pull_away_weight=self.pull_away_weight,
                      latent_constraint_weight=self.latent_constraint_weight)
        if self.bn_statistics != "joint":
            config["bn_statistics"] = self.bn_statistics
        return config

    # ------------------------------------------------------------------ noise
    def sample_noise(self, num, counter):
        """``[num, S, S, C]`` corruption noise ``n ~ N(0, noise_std^2)``, stateless in
        (seed, counter): the global batch's noise at training step ``counter``."""
        key = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.cast(self.seed, tf.int64), tf.cast(counter, tf.int64)]),
            NOISE_SALT)
        shape = tf.stack([tf.cast(num, tf.int32), self.image_size, self.image_size,
                          self.channels])
        # The algorithm fixed as for z (tfbegan.models.priors): with the default
        # "auto_select", XLA draws other numbers than graph mode for the same key.
        return self.noise_std * tf.random.stateless_normal(shape, seed=key,
                                                           alg=priors.STATELESS_ALG)

    def _global_noise(self, local_batch, ctx, counter):
        """This replica's slice of the global batch's noise (like ``_global_z``)."""
        noise = self.sample_noise(local_batch * ctx.num_replicas_in_sync, counter)
        start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
        return noise[start:start + local_batch]

    # ------------------------------------------------------------------ losses
    def denoising_term(self, x, noise, training=False):
        """Unweighted ``L_DAE = mean((D(x + noise) - x)^2)`` for a given noise tensor."""
        x = self._check_images(x)
        noise = tf.convert_to_tensor(noise, tf.float32)
        return denoising_loss(x, self.discriminator(x + noise, training=training))

    def discriminator_extra_loss(self, x, training):
        """D's extra terms for a batch on its own: ``lambda_noise * L_DAE`` with this
        step's noise (D applied to ``x + n`` in a separate call) plus ``ha_weight *
        ||theta_D - avg_D||^2``. ``train_step`` computes the same terms, but inside
        D pass on ``[x, x + n]`` (see the class docstring)."""
        x = self._check_images(x)
        ctx = replica_context()
        extra = tf.constant(0.0)
        if self.lambda_noise > 0:
            step = (tf.convert_to_tensor(self.d_optimizer.iterations)
                    if self.d_optimizer is not None else 0)
            noise = self._global_noise(tf.shape(x)[0], ctx, step)
            extra += self.lambda_noise * self.denoising_term(x, noise, training=training)
        if self.ha_weight > 0:
            extra += self.ha_weight * self.historical_penalties()[0]
        return extra

    def compute_denoising_losses(self, x, z, noise, training):
        """L(x), L(G(z)) and ``L_DAE`` from D on ``[x, x + noise]`` and ``G(z)``
        (``noise=None``: ``[x]`` and ``G(z)``), one concatenated call with batch norm
        and two calls without (class docstring).

        Returns ``loss_real``, ``loss_fake``, ``loss_denoise`` (0 without noise) and
        ``fake``.
        """
        fake = self.generator(z, training=training)
        b = tf.shape(x)[0]
        real = x if noise is None else tf.concat([x, x + noise], axis=0)
        codes = None
        if self.batch_norm and self.bn_statistics == "joint":
            offset = tf.shape(real)[0]
            recon, h = self._reconstruct(tf.concat([real, fake], axis=0), training)
            recon_real, recon_fake = recon[:offset], recon[offset:]
            codes = None if h is None else h[offset:]
        else:
            recon_real = self.discriminator(real, training=training)
            recon_fake, codes = self._reconstruct(fake, training)
        loss_real = tf.reduce_mean(self.distance(x, recon_real[:b]))
        loss_fake = tf.reduce_mean(self.distance(fake, recon_fake))
        loss_denoise = (tf.constant(0.0) if noise is None
                        else denoising_loss(x, recon_real[b:]))
        out = {"loss_real": loss_real, "loss_fake": loss_fake,
               "loss_denoise": loss_denoise, "fake": fake}
        if codes is not None:
            out.update(self.code_terms(codes, z))
        return out

    # ------------------------------------------------------------------ steps
    def train_step(self, data):
        """BEGAN's step (per-replica means, gradients / num_replicas, all-reduced
        metrics, k update) with Eq. 6's D loss and the historical-averaging terms.

        Overrides BEGAN.train_step rather than using only the
        ``discriminator_extra_loss`` hook because (a) with batch norm real, noisy
        and generated images share one D pass, so L(x), L(G(z)) and L_DAE come from
        the same forward computation, and (b) historical averaging adds a term to
        L_G too.
        Batch-norm moving statistics are updated by the ``training=True`` calls
        (Keras 3 assigns them inside the layer): once per step for G and once for D.
        """
        x, ctx, step = self.begin_train_step(data)
        n_rep = ctx.num_replicas_in_sync
        local_batch = tf.shape(x)[0]
        z = self._global_z(local_batch, ctx, step)
        noise = (self._global_noise(local_batch, ctx, step) if self.lambda_noise > 0
                 else None)
        k = tf.convert_to_tensor(self.k)
        if self.ha_weight > 0:
            self.update_historical_averages()

        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_denoising_losses(x, z, noise, training=True)
            ha_d, ha_g = self.historical_penalties()
            d_real, g_extra = self.split_losses(out, ha_d, ha_g)
            d_loss = d_real - k * out["loss_fake"]
            g_loss = out["loss_fake"] if g_extra is None else out["loss_fake"] + g_extra
            # Per-replica means; scale_loss: the float16 loss scale S (identity otherwise).
            scaled = {"d_real": self.d_optimizer.scale_loss(d_real / n_rep),
                      "g_fake": self.g_optimizer.scale_loss(out["loss_fake"] / n_rep),
                      "g_extra": (None if g_extra is None
                                  else self.g_optimizer.scale_loss(g_extra / n_rep))}
            if self.batch_norm:
                scaled["d"] = self.d_optimizer.scale_loss(d_loss / n_rep)
                scaled["g"] = self.g_optimizer.scale_loss(g_loss / n_rep)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads, g_grads = self._gradients(tape, scaled, k, d_vars, g_vars, out["fake"])
        del tape
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars, strict=True))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars, strict=True))
        self.update_generator_ema()

        values = {"loss_real": out["loss_real"], "loss_fake": out["loss_fake"],
                  "d_loss": d_loss, "g_loss": g_loss}
        self._add_extra_values(values, out["loss_denoise"], ha_d, ha_g, out)
        values = all_mean(ctx, values)
        values.update(self.update_k(k, values))
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self._report(values)

    def split_losses(self, out, ha_d, ha_g):
        """``(d_real, g_extra)``: L_D's terms that do not involve L(G(z)) (L(x),
        lambda_noise L_DAE, HA, BEGAN-CS's constraint) and L_G's beside L(G(z)) (HA,
        EBGAN's pull-away; None when there are none). The two code terms reach
        their network through D's encoder on G(z); tfbegan.models.gradients carries
        such terms beside the shared backward pass."""
        d_real = out["loss_real"]
        if self.lambda_noise > 0:
            d_real += self.lambda_noise * out["loss_denoise"]
        if self.ha_weight > 0:
            d_real += self.ha_weight * ha_d
        if "latent_constraint" in out:
            d_real += self.latent_constraint_weight * out["latent_constraint"]
        g_terms = [self.ha_weight * ha_g] if self.ha_weight > 0 else []
        if "pull_away" in out:
            g_terms.append(self.pull_away_weight * out["pull_away"])
        return d_real, (tf.add_n(g_terms) if g_terms else None)

    def _gradients(self, tape, scaled, k, d_vars, g_vars, fake):
        """D's and G's gradients: one backward pass through D on G(z) without batch
        norm, the two of L_D and L_G with it (class docstring)."""
        if self.batch_norm:
            return tape.gradient(scaled["d"], d_vars), tape.gradient(scaled["g"], g_vars)
        g_extra = [] if scaled["g_extra"] is None else [scaled["g_extra"]]
        k_ratio = -k * loss_scale_ratio(self.d_optimizer, self.g_optimizer)
        return began_gradients(tape, scaled["d_real"], scaled["g_fake"], k_ratio, d_vars,
                               g_vars, [fake], g_extra)

    def _add_extra_values(self, values, loss_denoise, ha_d, ha_g, out=None):
        for name in ("pull_away", "latent_constraint"):
            if out is not None and name in out:
                values[name] = out[name]
        if self.lambda_noise > 0:
            values["loss_denoise"] = loss_denoise
        if self.ha_weight > 0:
            values["ha_d"] = ha_d
            values["ha_g"] = ha_g

    def test_step(self, data):
        """Inference-mode losses; noise and z fixed per batch position (counter -1)."""
        x = self._check_images(data)
        ctx = replica_context()
        local_batch = tf.shape(x)[0]
        z = self._global_z(local_batch, ctx, -1)
        noise = (self._global_noise(local_batch, ctx, -1) if self.lambda_noise > 0
                 else None)
        out = self.compute_denoising_losses(x, z, noise, training=False)
        k = tf.convert_to_tensor(self.k)
        ha_d, ha_g = self.historical_penalties()
        d_loss = (out["loss_real"] - k * out["loss_fake"]
                  + self.lambda_noise * out["loss_denoise"] + self.ha_weight * ha_d)
        g_loss = out["loss_fake"] + self.ha_weight * ha_g
        d_loss, g_loss = self.add_code_terms(d_loss, g_loss, out)
        values = {"loss_real": out["loss_real"], "loss_fake": out["loss_fake"],
                  "d_loss": d_loss, "g_loss": g_loss}
        self._add_extra_values(values, out["loss_denoise"], ha_d, ha_g, out)
        values = all_mean(ctx, values)
        if "e_t" in self.metric_names():
            values["e_t"] = equilibrium.balance(values["loss_real"], values["loss_fake"],
                                                self.gamma)
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self._report(values)

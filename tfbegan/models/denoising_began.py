"""Denoising BEGAN with batch norm, skip connections and historical averaging (Li et al. 2018)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbegan import equilibrium
from tfbegan.config import check_range
from tfbegan.models.base import replica_context
from tfbegan.models.began import BEGAN

#: Salt folded into the (seed, step) key of the corruption noise, so that the noise
#: stream is independent of the z stream, which uses the same (seed, step) key.
NOISE_SALT = 0x6E6F6973  # "nois"


def denoising_loss(x, reconstruction):
    """``L_DAE = mean((D(x + n) - x)^2)``, the denoising term of Eq. 6 (Li et al. 2018).

    ``reconstruction`` is ``D(x + n)``. Li et al. write ``||D(x + n) - x||_2^2``; we take
    the *mean* over pixels and batch (not the sum) so that ``lambda_noise = 2``
    weighs it on the same per-pixel scale as ``L(x)``, itself a mean.
    """
    diff = tf.cast(reconstruction, tf.float32) - tf.cast(x, tf.float32)
    return tf.reduce_mean(tf.square(diff))


def historical_averaging_penalty(variables, averages):
    """``sum_i ||theta_i - avg_i||_2^2`` over a network's trainable variables.

    Salimans et al. 2016 (sec. 3.3): ``||theta - (1/t) sum_{i=1}^t theta[i]||^2``.
    ``averages`` are read as constants (no gradient flows into them), so the
    gradient is ``2 (theta - avg)``.
    """
    terms = [tf.reduce_sum(tf.square(tf.convert_to_tensor(v) - tf.convert_to_tensor(a)))
             for v, a in zip(variables, averages)]
    if not terms:
        return tf.constant(0.0)
    return tf.add_n(terms)


def pull_away_term(codes):
    """EBGAN's pull-away term (Zhao, Mathieu, LeCun 2017, Eq. 6) of a batch of codes.

    ``PT(S) = 1 / (N (N - 1)) * sum_{i != j} (s_i . s_j / (|s_i| |s_j|))^2``: the mean
    squared cosine similarity between the codes of different samples, 0 when they
    are mutually orthogonal, 1 when they all point the same way. ``codes`` is
    ``[N, h]`` with N >= 2.
    """
    s = tf.cast(codes, tf.float32)
    s = s / tf.maximum(tf.norm(s, axis=1, keepdims=True), 1e-12)
    n = tf.cast(tf.shape(s)[0], tf.float32)
    cos2 = tf.square(tf.matmul(s, s, transpose_b=True))
    return (tf.reduce_sum(cos2) - tf.linalg.trace(cos2)) / (n * (n - 1.0))


def latent_constraint(codes, z):
    """BEGAN-CS's latent constraint (Chang, Hsu, Yeh 2018): ``mean |E(G(z)) - z|``,
    the l1 distance between the discriminator's code of G(z) and z, averaged over
    dimensions and batch (so its weight does not scale with N_z = N_h)."""
    return tf.reduce_mean(tf.abs(tf.cast(codes, tf.float32) - tf.cast(z, tf.float32)))


@keras.saving.register_keras_serializable(package="tfbegan")
class DenoisingBEGAN(BEGAN):
    """BEGAN with a denoising discriminator loss and Li et al. 2018's options.

    Implements Li et al. 2018 (Eq. 6, Fig. 3, Table 1):

    * ``L_D = L(x) - k_t L(G(z)) + lambda_noise * mean((D(x + n) - x)^2)``,
      ``n ~ N(0, noise_std^2)`` (Eq. 6; 003 uses lambda_noise = 2, sigma = 1).
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
    generated images. Training runs D *once* on the concatenated batch
    ``[x, x + n, G(z)]`` (``[x, G(z)]`` when ``lambda_noise = 0``), so batch norm
    computes one set of statistics over the three. Reasons: 003 describes the
    discriminator as encoding "all images (including real images, noisy real
    images, and generated images)" in one data flow (Fig. 2b), and the reference
    TensorFlow BEGAN feeds D ``concat([G(z), x])``; one batch also makes the moving
    averages (one update per step) estimate exactly the statistics D trains with,
    whereas three calls would update them three times per step in a fixed order
    and D would see differently normalized inputs at training and inference time;
    and separate statistics would normalize away per-channel mean/variance
    differences between real and generated batches, which D should be able to
    penalize. Without batch norm D is per-sample and the concatenation changes
    nothing but speed. Under ``MirroredStrategy`` the statistics are those of the
    global concatenated batch (synchronized batch norm), so N replicas equal one
    device.

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
      lambda_noise: weight of the denoising term, >= 0 (003: 2); 0 turns it off.
      noise_std: sigma of the Gaussian corruption, >= 0 (003: 1).
      batch_norm: batch norm after each block's second conv (003 Fig. 3).
      skip_connections: H0 skip connections in decoder and generator.
      ha_weight: historical-averaging weight, >= 0; 0 = off (003 "+HA" does not
        give its value).
      pull_away_weight: weight of EBGAN's pull-away term in L_G, >= 0; 0 = off.
      latent_constraint_weight: weight of BEGAN-CS's latent constraint in L_D,
        >= 0; 0 = off; needs ``h_dim == z_dim``.

    Example:

    ```python
    model = tfbegan.DenoisingBEGAN(image_size=32, channels=3, filters=64, gamma=1.0)
    model.compile(**model.make_optimizers(1e-4, 0.5))
    model.fit(images_in_minus1_1, epochs=1, steps_per_epoch=100)
    samples = model.generate(16, seed=0)  # batch norm in inference mode
    ```

    Reference: Gao et al. (Li et al. 2018), "Improving BEGANs with a denoising loss and
    batch normalization"; Salimans et al. 2016, https://arxiv.org/abs/1606.03498
    """

    #: train_step differentiates optimizer.scale_loss(loss) (float16 loss scaling).
    scales_losses = True

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, gamma=1.0, lambda_k=0.001, eta=1, k_init=0.0, seed=0,
                 distance=None, controller="proportional", lambda_noise=2.0,
                 noise_std=1.0, batch_norm=True, skip_connections=True, ha_weight=0.0,
                 architecture="began", pull_away_weight=0.0,
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

    def _average_slot(self, variable, name):
        return self.add_weight(name=name, shape=variable.shape, initializer="zeros",
                               trainable=False, aggregation="mean", dtype="float32")

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
        return self.noise_std * tf.random.stateless_normal(shape, seed=key)

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

    def historical_penalties(self):
        """``(||theta_D - avg_D||^2, ||theta_G - avg_G||^2)`` with the current
        averages (zeros when ``ha_weight = 0``)."""
        if self.ha_weight <= 0:
            return tf.constant(0.0), tf.constant(0.0)
        return (historical_averaging_penalty(self.discriminator.trainable_variables,
                                             self.ha_avg_d),
                historical_averaging_penalty(self.generator.trainable_variables,
                                             self.ha_avg_g))

    def update_historical_averages(self):
        """Folds the current parameters into the cumulative means:
        ``count += 1; avg += (theta - avg) / count`` (Salimans et al. 2016)."""
        count = tf.convert_to_tensor(self.ha_count) + 1.0
        self.ha_count.assign(count)
        for variables, averages in ((self.discriminator.trainable_variables, self.ha_avg_d),
                                    (self.generator.trainable_variables, self.ha_avg_g)):
            for v, a in zip(variables, averages):
                a_val = tf.convert_to_tensor(a)
                a.assign(a_val + (tf.convert_to_tensor(v) - a_val) / count)

    def discriminator_extra_loss(self, x, training):
        """D's extra terms for a batch on its own: ``lambda_noise * L_DAE`` with this
        step's noise (D applied to ``x + n`` in a separate call) plus ``ha_weight *
        ||theta_D - avg_D||^2``. ``train_step`` computes the same terms, but inside
        its single concatenated D pass (see the class docstring)."""
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
        """One D pass over ``[x, x + noise, G(z)]`` (``noise=None``: ``[x, G(z)]``).

        Returns ``loss_real``, ``loss_fake``, ``loss_denoise`` (0 without noise) and
        ``fake``; one batch means one set of batch-norm statistics (class docstring).
        """
        fake = self.generator(z, training=training)
        b = tf.shape(x)[0]
        parts = [x] if noise is None else [x, x + noise]
        offset = b * len(parts)
        codes = None
        if self.uses_codes():
            # Encoder, then decoder: D's computation, with the code h kept.
            h = self.discriminator.get_layer("encoder")(
                tf.concat(parts + [fake], axis=0), training=training)
            recon = self.discriminator.get_layer("decoder")(h, training=training)
            codes = h[offset:]
        else:
            recon = self.discriminator(tf.concat(parts + [fake], axis=0),
                                       training=training)
        loss_real = tf.reduce_mean(self.distance(x, recon[:b]))
        loss_fake = tf.reduce_mean(self.distance(fake, recon[offset:]))
        loss_denoise = (tf.constant(0.0) if noise is None
                        else denoising_loss(x, recon[b:2 * b]))
        out = {"loss_real": loss_real, "loss_fake": loss_fake,
               "loss_denoise": loss_denoise, "fake": fake}
        if codes is not None:
            out.update(self.code_terms(codes, z))
        return out

    def uses_codes(self):
        """Whether a term on D's code of G(z) is on (pull-away, latent constraint)."""
        return self.pull_away_weight > 0 or self.latent_constraint_weight > 0

    def code_terms(self, codes, z):
        """Unweighted ``pull_away`` and ``latent_constraint`` of the generated batch's
        codes (those whose weight is > 0)."""
        terms = {}
        if self.pull_away_weight > 0:
            terms["pull_away"] = pull_away_term(codes)
        if self.latent_constraint_weight > 0:
            terms["latent_constraint"] = latent_constraint(codes, z)
        return terms

    def add_code_terms(self, d_loss, g_loss, out):
        """``(d_loss + w_cs * latent_constraint, g_loss + w_pt * pull_away)``."""
        if "latent_constraint" in out:
            d_loss += self.latent_constraint_weight * out["latent_constraint"]
        if "pull_away" in out:
            g_loss += self.pull_away_weight * out["pull_away"]
        return d_loss, g_loss

    # ------------------------------------------------------------------ steps
    def train_step(self, data):
        """BEGAN's step (per-replica means, gradients / num_replicas, all-reduced
        metrics, k update) with Eq. 6's D loss and the historical-averaging terms.

        Overrides BEGAN.train_step rather than using only the
        ``discriminator_extra_loss`` hook because (a) real, noisy and generated
        images share one D pass, so L(x), L(G(z)) and L_DAE come from the same
        forward computation, and (b) historical averaging adds a term to L_G too.
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
            d_loss = out["loss_real"] - k * out["loss_fake"]
            g_loss = out["loss_fake"]
            if self.lambda_noise > 0:
                d_loss += self.lambda_noise * out["loss_denoise"]
            ha_d, ha_g = self.historical_penalties()
            if self.ha_weight > 0:
                d_loss += self.ha_weight * ha_d
                g_loss += self.ha_weight * ha_g
            d_loss, g_loss = self.add_code_terms(d_loss, g_loss, out)
            # scale_loss: the float16 loss scale S (identity otherwise).
            d_scaled = self.d_optimizer.scale_loss(d_loss / n_rep)
            g_scaled = self.g_optimizer.scale_loss(g_loss / n_rep)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads = tape.gradient(d_scaled, d_vars)
        g_grads = tape.gradient(g_scaled, g_vars)
        del tape
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))

        values = {"loss_real": out["loss_real"], "loss_fake": out["loss_fake"],
                  "d_loss": d_loss, "g_loss": g_loss}
        self._add_extra_values(values, out["loss_denoise"], ha_d, ha_g, out)
        values = self._all_mean(ctx, values)
        values.update(self.update_k(k, values))
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self._report(values)

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
        values = self._all_mean(ctx, values)
        if "e_t" in self.metric_names():
            values["e_t"] = equilibrium.balance(values["loss_real"], values["loss_fake"],
                                                self.gamma)
        values["m_global"] = equilibrium.m_global(values["loss_real"], values["loss_fake"],
                                                  self.gamma)
        return self._report(values)

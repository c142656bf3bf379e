"""Denoising BEGAN with batch norm, skip connections and historical averaging (Li et al. 2018)."""

from __future__ import annotations

import keras
import tensorflow as tf

import tfbegan.models.priors as priors
from tfbegan.checks import check_range
from tfbegan.losses.terms import (
    denoising_loss,
    historical_averaging_penalty,
    latent_constraint,
    pull_away_term,
)
from tfbegan.models.base import replica_slice
from tfbegan.models.began import BEGAN

#: How D's batch norm groups a training step's images: "joint" (one set of batch
#: statistics over [x, x + n, G(z)], the default) or "separate" ([x, x + n] and G(z)
#: each normalized by its own statistics, as DCGAN-style GANs run D).
BN_STATISTICS = ("joint", "separate")

#: Salt folded into the (seed, step) key of the corruption noise, so that the noise
#: stream is independent of the z stream, which uses the same (seed, step) key.
NOISE_SALT = 0x6E6F6973  # "nois"


@keras.saving.register_keras_serializable(package="tfbegan")
class DenoisingBEGAN(BEGAN):
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
    k rises within 100 steps (docs/models.md).

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

    **Augmentation** (``augment``, DiffAugment, Zhao et al. 2020): augment, then
    noise. D sees ``T(x)``, ``T(x) + n`` and ``T(G(z))``; the denoising term is
    ``mean((D(T(x) + n) - T(x))^2)``, so D still learns to remove the noise from the
    images it is shown, and the corruption keeps its N(0, sigma^2) law (noise first,
    then colour or cutout, would rescale or erase it).

    Reported metrics: BEGAN's plus ``loss_denoise`` (unweighted ``L_DAE``, when
    ``lambda_noise > 0``) and ``ha_d`` / ``ha_g`` (unweighted penalties, when
    ``ha_weight > 0``); ``d_loss`` and ``g_loss`` include the weighted terms.

    Args:
      image_size, channels, filters, repeats, z_dim, h_dim, gamma, lambda_k, eta,
        k_init, seed, distance, controller, pid_gains, augment (a keyword): as
        :class:`BEGAN`.
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
                      latent_constraint_weight=self.latent_constraint_weight,
                      bn_statistics=self.bn_statistics)
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

    def step_inputs(self, x, ctx, counter):
        """``(z, noise)``: this replica's slices of the global batch's draws at
        ``counter`` (``noise`` is None when ``lambda_noise = 0``)."""
        batch = tf.shape(x)[0]
        noise = (replica_slice(lambda n: self.sample_noise(n, counter), batch, ctx)
                 if self.lambda_noise > 0 else None)
        return self.global_z(batch, ctx, counter), noise

    # ------------------------------------------------------------------ HA
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
            for v, a in zip(variables, averages, strict=True):
                a_val = tf.convert_to_tensor(a)
                a.assign(a_val + (tf.convert_to_tensor(v) - a_val) / count)

    # ------------------------------------------------------------------ steps
    def _discriminate(self, images, training):
        """``(D(images), D's code h of them)``; the code only when a term on it is
        on (pull-away, latent constraint), else None."""
        if not (self.pull_away_weight > 0 or self.latent_constraint_weight > 0):
            return self.discriminator(images, training=training), None
        h = self.discriminator.get_layer("encoder")(images, training=training)
        return self.discriminator.get_layer("decoder")(h, training=training), h

    def compute_losses(self, x, z, noise, k, training, augment=None):
        """Eq. 6 and the options' terms, for ``train_step`` and ``test_step``.

        D runs on ``[x, x + noise]`` and ``G(z)``: one concatenated call with batch
        norm and joint statistics, two calls otherwise (class docstring). Returns
        BEGAN's dict (:meth:`BEGAN.compute_losses`) with
        ``d_real = L(x) + lambda_noise L_DAE + w_ha HA_D + w_cs latent_constraint``
        and ``g_extra = w_ha HA_G + w_pt pull_away``; ``values`` adds each
        unweighted term that is on. ``augment``: as :meth:`BEGAN.compute_losses`
        (x and G(z) are transformed first, then the noise is added).
        """
        fake = self.generator(z, training=training)
        x, seen = self._augmenter.pair(augment, x, fake)  # augment, then noise
        b = tf.shape(x)[0]
        real = x if noise is None else tf.concat([x, x + noise], axis=0)
        if self.batch_norm and self.bn_statistics == "joint":
            offset = tf.shape(real)[0]
            recon, h = self._discriminate(tf.concat([real, seen], axis=0), training)
            recon_real, recon_fake = recon[:offset], recon[offset:]
            codes = None if h is None else h[offset:]
        else:
            recon_real = self.discriminator(real, training=training)
            recon_fake, codes = self._discriminate(seen, training)
        loss_real = tf.reduce_mean(self.distance(x, recon_real[:b]))
        loss_fake = tf.reduce_mean(self.distance(seen, recon_fake))
        terms = {"loss_real": loss_real, "loss_fake": loss_fake}
        d_real, g_extra = loss_real, tf.constant(0.0)
        if noise is not None:
            terms["loss_denoise"] = denoising_loss(x, recon_real[b:])
            d_real += self.lambda_noise * terms["loss_denoise"]
        if self.ha_weight > 0:
            terms["ha_d"], terms["ha_g"] = self.historical_penalties()
            d_real += self.ha_weight * terms["ha_d"]
            g_extra += self.ha_weight * terms["ha_g"]
        if self.latent_constraint_weight > 0:
            terms["latent_constraint"] = latent_constraint(codes, z)
            d_real += self.latent_constraint_weight * terms["latent_constraint"]
        if self.pull_away_weight > 0:
            terms["pull_away"] = pull_away_term(codes)
            g_extra += self.pull_away_weight * terms["pull_away"]
        terms.update(d_loss=d_real - k * loss_fake, g_loss=loss_fake + g_extra)
        return {"fake": fake, "d_real": d_real, "loss_fake": loss_fake,
                "g_extra": g_extra, "values": terms}

    @property
    def single_backward_pass(self):
        """False with batch norm: every row of D's output then depends on every input
        row, so L_D's and L(G(z))'s cotangents differ on the whole batch and two
        backward passes are the fewest (class docstring)."""
        return not self.batch_norm

    def train_step(self, data):
        """BEGAN's step (:meth:`BEGAN.train_step`) with Eq. 6's L_D; historical
        averaging first folds this step's starting parameters into the averages."""
        if self.ha_weight > 0:
            self.update_historical_averages()
        return super().train_step(data)

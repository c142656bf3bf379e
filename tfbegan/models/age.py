"""AGE: Adversarial Generator-Encoder networks (Ulyanov, Vedaldi, Lempitsky 2018).

Two networks only: a generator g (z -> x) and an encoder e (x -> z on the unit
sphere). The encoder plays the adversary through latent divergences:

* ``V2(g, e) = Delta(e(g(Z)) || Z) - Delta(e(X) || Z)``                 (Eq. 7)
* ``L_X = E_x |x - g(e(x))|``, ``L_Z = E_z ||z - e(g(z))||_2^2``        (Eqs. 8, 9)
* g minimises ``V2 + lambda L_Z``; e maximises ``V2 - mu L_X``          (Eqs. 10, 11)

Readings taken where the slides leave room (each documented where it is used):

* Delta: the KL divergence from a diagonal Gaussian fitted to the batch of latents
  (per-dimension mean and biased variance) to N(0, I), per latent dimension (the
  sum over dimensions divided by N_z), see :func:`gaussian_kl_to_standard`. The
  slides' prior Y = Z is uniform on the sphere; as in the AGE paper it is replaced
  by N(0, I) in Delta. On the sphere this costs nothing: with unit-norm latents
  ``sum_j (m_j^2 + s_j^2) = mean ||e||^2 = 1``, so the KL to N(0, I) and the KL to
  the sphere's moment-matched N(0, I / N_z) differ by a constant and give the same
  gradients; both are minimised by m = 0, s_j^2 = 1 / N_z, the moments of the
  uniform distribution on the sphere.
* L_X: the l1 distance averaged over pixel values (not summed) so that mu does
  not depend on the image size; it equals BEGAN's L(v) with eta = 1.
* L_Z: the squared l2 distance summed over latent dimensions as printed (in
  [0, 4] on the sphere; it equals 2 (1 - cos(z, e(g(z))))).
* Defaults lambda = 1000, mu = 10: the weights of the AGE paper's experiments (the
  latent term of the generator update 1000, the image term of the encoder update
  10).
* Options follow the AGE authors' public code where it departs from the
  equations (each off by default; :class:`AGE`'s arguments): e's and g's per-term
  weights ``kl_fake_weight`` and ``g_mu_x``, the ``adaptive_adversary``, and the
  forms of Delta and L_Z (:data:`KL_FORMS`, :data:`LATENT_DISTANCES`):
  its KL puts the fitted *variance* where the Gaussian's standard deviation goes
  (``kl_form="variance_as_std"``), and its latent match is a cosine distance
  averaged over batch *and* latent dimensions (``latent_distance="cosine"``), so
  that its weight 1000 is ~1000 / N_z per unit of cosine, where the printed
  ``||z - e(g(z))||^2 = 2 (1 - cos)`` with lambda 1000 weighs it 2000.
* Two options are ours, for batch norm (``recon_moving_statistics``,
  ``encoder_real_statistics``): the statistics a network normalises with at test
  time differ from those of the batches it trains on (see :class:`AGE`).
* One encoder and one generator update per step from the same forward pass; with
  ``g_steps = n > 1`` the generator takes n - 1 further updates on fresh z (the
  AGE authors' schedules take several generator steps per encoder step).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbegan.checks import check_bool, check_choice, check_range, check_weight
from tfbegan.losses.age import (
    KL_FORMS,
    LATENT_DISTANCES,
    adaptive_adversary_update,
    age_losses,
    ideal_delta,
    latent_distance,
    latent_divergence,
)
from tfbegan.models.base import all_mean, default_optimizer, replica_context
from tfbegan.models.config import ModelConfig
from tfbegan.models.encoder_gan import EncoderGANBase
from tfbegan.networks.began import build_generator, image_input
from tfbegan.networks.encoders import build_encoder_body


def build_sphere_encoder(config: ModelConfig, name: str = "encoder") -> keras.Model:
    """e: image -> unit vector in R^{N_z}: the BEGAN encoder (Dense to N_z; with
    ``architecture="dcgan"`` the DCGAN-style one of ``tfbegan.networks.encoders``)
    followed by L2 normalisation, so that e(x) lies on the sphere the prior lives on."""
    base = build_encoder_body(config, config.z_dim, name=f"{name}_net")
    inputs = image_input(config)
    z = keras.layers.UnitNormalization(axis=-1, name=f"{name}_unit",
                                       dtype="float32")(base(inputs))
    return keras.Model(inputs, z, name=name)


@keras.saving.register_keras_serializable(package="tfbegan")
class AGE(EncoderGANBase):
    """Adversarial Generator-Encoder network: generator g and encoder e, no discriminator.

    Per step, from one forward pass (z from the sphere prior, x a real batch):
    ``e(x)``, ``g(z)``, ``e(g(z))``, ``g(e(x))``; then (see :func:`age_losses`)

    * generator: minimise ``V2 + lambda L_Z``           (Ulyanov et al. 2018)
    * encoder:   maximise ``V2 - mu L_X``               (Ulyanov et al. 2018)

    with ``V2 = Delta(e(g(Z)) || Z) - Delta(e(X) || Z)`` and Delta the per-dimension
    KL of the batch's fitted diagonal Gaussian to N(0, I) (module docstring). Each
    optimizer gets the gradient of its own loss w.r.t. its own network only. Unlike
    BEGAN's, these gradients share no backward pass: through e on g(z) the encoder's
    cotangent is ``-dDelta/de`` and the generator's ``dDelta/de + lambda dL_Z/de``,
    not proportional, so one pass with e's weight gradients and one with the
    gradient that reaches g(z) are the fewest.

    Prior: uniform on the unit sphere S^{N_z - 1} (``prior = "sphere"``, normalised
    Gaussian samples); e ends in an L2 normalisation onto the same sphere.

    Distribution: z is drawn for the global batch and sliced per replica; the
    Gaussian fits of Delta use all-reduced moments of the *global* batch (the KL is
    not a mean of per-sample terms, so per-replica fits would differ from one
    device); L_X, L_Z are per-replica means; all losses are divided by the replica
    count before the optimizers' cross-replica gradient sum.

    Metrics: ``g_loss, e_loss, v2, delta_real, delta_fake, l_z`` and ``recon_l1``
    (= L_X, the convergence metric), all from the step's joint forward pass.

    Schedule: each step updates e and g once from one forward pass; ``g_steps = n``
    adds n - 1 generator-only updates, each on fresh z (keyed by (seed, n * step +
    i)) with ``Delta(e(g(z))) + lambda L_Z`` (the ``-Delta(e(X))`` term of V2 does not
    depend on g). The step counter is the encoder optimizer's ``iterations``.

    Args:
      image_size, channels, filters, repeats, z_dim, seed: the BEGAN backbone (see
        :class:`tfbegan.BEGAN`). h_dim is accepted for the shared CLI but unused:
        e's Dense layer maps straight to N_z.
      lambda_z: lambda, weight of L_Z in the generator loss (AGE paper: 1000).
      mu_x: mu, weight of L_X in the encoder loss (AGE paper: 10).
      g_steps: generator updates per encoder update (>= 1; 1 = Eqs. 10-11 applied
        once each per step).
      e_lr_ratio: the encoder's Adam rate is ``e_lr_ratio * learning_rate`` in
        :meth:`make_optimizers` (in (0, 100]; 1 = one rate, the default). The AGE
        authors' code takes a rate per network; a slower encoder is the counterpart
        of BEGAN's slower discriminator.
      batch_norm: batch norm in e's and g's blocks (conv -> batch norm -> ELU, as
        :class:`tfbegan.DenoisingBEGAN`'s option); off by default. The AGE authors
        use DCGAN-style networks with batch norm.
      kl_form: Delta's form, "gaussian" (default) or "variance_as_std", the AGE
        authors' code's (:func:`kl_variance_as_std`).
      latent_distance: L_Z's form, "squared_l2" (default, as printed) or "cosine",
        the authors' code's (:func:`latent_distance`); with "cosine" lambda weighs
        (1 - cos) / N_z, as the authors' match_z weight does.
      recon_moving_statistics: compute L_X's ``g(e(x))`` with g's batch norm in
        inference mode (its moving statistics, gathered on prior batches only) rather
        than with the e(x) batch's own statistics (default False; ours, not the
        authors'). With batch norm in g, a per-batch normalisation makes g's
        training-mode output blind to a shift or shrink of the whole e(X) batch, so
        e can encode the digits in a small cap of the sphere that g decodes in
        training and not at test time (``reconstruct``).
      encoder_real_statistics: e's batch-norm moving statistics from real batches
        only (default False: e(X) and e(g(Z)) both update them; ours). In training e
        normalises each batch with its own statistics either way; at test time the
        mixture of real and generated batches' statistics shifts e(x).
      kl_fake_weight: w, e's weight on Delta(e(g(Z))) (default 1, Eq. 11; the
        authors' code's e_updates "KL_fake" weight, 1 in their recipes). Below 1 the
        encoder pays for shrinking e(X) and e(g(Z)) together (V2 alone is blind to a
        common shrink of both batches' variances).
      g_mu_x: weight of L_X in g's loss (default 0: Eq. 10 has none, and L_X trains
        e only; the authors' code's g_updates "match_x" weight, 0 in their recipes).
        Only the update from the step's joint pass carries it; the ``g_steps - 1``
        extra generator updates draw no real batch.
      adaptive_adversary: the authors' code's adaptive adversary (default False):
        w starts at ``kl_fake_weight`` and follows
        :func:`tfbegan.losses.age.adaptive_adversary_update` each step (it
        falls while either Delta is 5 % above its minimum on the sphere); reported
        as the ``adv_weight`` metric and saved with the model's weights.

    Example:

    ```python
    model = AGE(image_size=32, channels=1, filters=16, z_dim=32)
    model.compile(**model.make_optimizers(2e-4, 0.5))
    model.fit(images_in_minus1_1, epochs=1, steps_per_epoch=100)
    x_rec = model.reconstruct(images)   # g(e(x))
    ```

    Reference: https://arxiv.org/abs/1704.02304
    """

    prior = "sphere"
    # The encoder first: its iterations count the steps whatever g_steps is.
    optimizer_networks = (("e", "encoder"), ("g", "generator"))

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, seed=0, lambda_z=1000.0, mu_x=10.0, g_steps=1, e_lr_ratio=1.0,
                 kl_form="gaussian", latent_distance="squared_l2",
                 recon_moving_statistics=False, kl_fake_weight=1.0, adaptive_adversary=False,
                 encoder_real_statistics=False, g_mu_x=0.0, **kwargs):
        lambda_z = check_weight("lambda_z", lambda_z)
        mu_x = check_weight("mu_x", mu_x)
        if isinstance(g_steps, bool) or not isinstance(g_steps, int) or not (
                1 <= g_steps <= 100):
            raise ValueError(f"g_steps={g_steps!r} is out of range; allowed: an integer "
                             f"in [1, 100].")
        check_range("e_lr_ratio", e_lr_ratio, 0.0, 100.0, low_open=True)
        check_choice("kl_form", kl_form, tuple(KL_FORMS))
        check_choice("latent_distance", latent_distance, LATENT_DISTANCES)
        super().__init__(image_size=image_size, channels=channels, filters=filters,
                         repeats=repeats, z_dim=z_dim, h_dim=h_dim, seed=seed, **kwargs)
        if z_dim < 2:
            # One dimension: the "sphere" is {-1, 1} and the Gaussian fit degenerates.
            raise ValueError(f"z_dim={z_dim!r} is out of range for AGE; allowed: an "
                             f"integer >= 2.")
        self.lambda_z = lambda_z
        self.mu_x = mu_x
        self.g_steps = g_steps
        self.e_lr_ratio = float(e_lr_ratio)
        self.kl_form = kl_form
        self.latent_distance = latent_distance
        self.recon_moving_statistics = check_bool("recon_moving_statistics",
                                                  recon_moving_statistics)
        self.adaptive_adversary = check_bool("adaptive_adversary", adaptive_adversary)
        self.encoder_real_statistics = check_bool("encoder_real_statistics",
                                                  encoder_real_statistics)
        self.kl_fake_weight = check_weight("kl_fake_weight", kl_fake_weight)
        self.g_mu_x = check_weight("g_mu_x", g_mu_x)
        if adaptive_adversary:
            # A model weight, so .keras checkpoints restore it; "mean" keeps replicas
            # equal (they update it from the same global Deltas anyway).
            self.adversary_weight = self.add_weight(
                name="adversary_weight", shape=(), trainable=False,
                initializer=keras.initializers.Constant(self.kl_fake_weight),
                aggregation="mean", dtype="float32")
        config = self.model_config
        self.generator = build_generator(config)
        self.encoder = build_sphere_encoder(config)
        self.finish_init()

    def compile(self, e_optimizer=None, g_optimizer=None, **kwargs):
        """One optimizer per network (Adam(2e-4, beta1=0.5) each by default)."""
        self.compile_networks({"e": e_optimizer, "g": g_optimizer}, kwargs)

    def make_optimizers(self, learning_rate=None, beta1=None, d_lr_ratio=1.0):
        """Adam per network; the encoder's at ``e_lr_ratio`` times the rate."""
        optimizers = super().make_optimizers(learning_rate, beta1, d_lr_ratio)
        if self.e_lr_ratio != 1.0:
            rate = self.default_learning_rate if learning_rate is None else learning_rate
            beta1 = self.default_beta1 if beta1 is None else beta1
            optimizers["e_optimizer"] = default_optimizer(
                float(rate) * self.e_lr_ratio, beta1, name="e_adam")
        return optimizers

    def metric_names(self):
        names = ("g_loss", "e_loss", "v2", "delta_real", "delta_fake", "l_z", "recon_l1")
        return names + (("adv_weight",) if self.adaptive_adversary else ())

    def get_config(self):
        config = super().get_config()
        config.update(lambda_z=self.lambda_z, mu_x=self.mu_x, g_steps=self.g_steps,
                      e_lr_ratio=self.e_lr_ratio, kl_form=self.kl_form,
                      latent_distance=self.latent_distance,
                      recon_moving_statistics=self.recon_moving_statistics,
                      adaptive_adversary=self.adaptive_adversary,
                      encoder_real_statistics=self.encoder_real_statistics,
                      kl_fake_weight=self.kl_fake_weight, g_mu_x=self.g_mu_x)
        return config

    def compute_losses(self, x, z, training, ctx=None):
        """One forward pass through e and g and :func:`age_losses`."""
        z_real = self.encoder(x, training=training)
        fake = self.generator(z, training=training)
        z_fake = self._encode_generated(fake, training)
        # recon_moving_statistics: g's batch norm normalises the e(x) batch with its
        # moving statistics (those of prior batches, since this call then updates
        # none), as ``reconstruct`` does at test time, instead of the batch's own,
        # which hide how far e(X) sits from the prior.
        reconstruction = self.generator(
            z_real, training=training and not self.recon_moving_statistics)
        weight = (tf.convert_to_tensor(self.adversary_weight)
                  if self.adaptive_adversary else self.kl_fake_weight)
        out = age_losses(x, z, z_real, z_fake, reconstruction, self.lambda_z, self.mu_x,
                         ctx, self.kl_form, self.latent_distance, weight)
        out["recon_l1"] = out["l_x"]
        if self.g_mu_x:
            out["g_loss"] = out["g_loss"] + self.g_mu_x * out["l_x"]
        if self.adaptive_adversary:
            out["adv_weight"] = weight
        return out

    def _encode_generated(self, images, training):
        """e(g(z)); with ``encoder_real_statistics`` in training mode, e's batch norm
        still normalises the batch with its own statistics (the game needs them) but
        its moving statistics are put back afterwards, so that they are real batches'
        only, the batches ``encode`` meets at test time."""
        if not (training and self.encoder_real_statistics):
            return self.encoder(images, training=training)
        moving = self.encoder.non_trainable_variables
        saved = [tf.identity(v) for v in moving]  # reads, ordered before the call
        z_fake = self.encoder(images, training=True)
        with tf.control_dependencies([z_fake]):
            for var, old in zip(moving, saved, strict=True):
                var.assign(old)
        return z_fake

    def _values(self, ctx, out):
        # Delta terms are already global; averaging identical values is harmless.
        return all_mean(ctx, {k: out[k] for k in self.metric_names()})

    def train_step(self, data):
        self.require_compiled()
        x = self.check_images(data)
        ctx = replica_context()
        n_rep = ctx.num_replicas_in_sync
        batch = tf.shape(x)[0]
        counter = self.step_counter() * self.g_steps
        z = self.global_z(batch, ctx, counter)
        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_losses(x, z, training=True, ctx=ctx)
            scaled = {k: getattr(self, f"{k}_optimizer").scale_loss(out[f"{k}_loss"] / n_rep)
                      for k in ("g", "e")}
        self.apply_own_gradients(tape, scaled)
        del tape
        if self.adaptive_adversary:
            # The Deltas are global (all-reduced moments), so replicas agree.
            self.adversary_weight.assign(adaptive_adversary_update(
                out["adv_weight"], out["delta_real"], out["delta_fake"],
                ideal_delta(self.z_dim, self.kl_form)))
        for i in range(1, self.g_steps):
            self._generator_step(self.global_z(batch, ctx, counter + i), ctx, n_rep)
        return self.report(self._values(ctx, out))

    def _generator_step(self, z, ctx, n_rep):
        """A generator-only update: minimise ``Delta(e(g(z))) + lambda L_Z``."""
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            z_fake = self._encode_generated(self.generator(z, training=True), True)
            loss = latent_divergence(z_fake, ctx, self.kl_form) + self.lambda_z * (
                latent_distance(z, z_fake, self.latent_distance))
            scaled = self.g_optimizer.scale_loss(loss / n_rep)
        grads = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(grads, variables, strict=True))

    def test_step(self, data):
        x = self.check_images(data)
        ctx = replica_context()
        z = self.global_z(tf.shape(x)[0], ctx, -1)
        out = self.compute_losses(x, z, training=False, ctx=ctx)
        return self.report(self._values(ctx, out))

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
* One encoder and one generator update per step from the same forward pass; with
  ``g_steps = n > 1`` the generator takes n - 1 further updates on fresh z (the
  AGE authors' schedules take several generator steps per encoder step).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbegan.config import ModelConfig, check_range
from tfbegan.encoder_networks import build_encoder_body
from tfbegan.models.backbone import check_weight
from tfbegan.models.base import default_optimizer, replica_context
from tfbegan.models.encoder_gan import EncoderGANBase
from tfbegan.networks import build_generator

#: Added to the fitted variances before the log; a batch of identical latents
#: (variance 0) would otherwise give an infinite KL.
VARIANCE_EPSILON = 1e-6


def fit_gaussian(latents, ctx=None):
    """Per-dimension mean and (biased) variance of a batch of latents ``[N, M]``.

    With ``ctx`` (a replica context with several replicas) the moments are those of
    the *global* batch: counts, sums and centred sums of squares are all-reduced
    (SUM, which is differentiable). Every replica then gets the same statistics,
    so N replicas compute the same Delta as one device with the global batch.

    Returns ``(mean [M], variance [M])`` with ``variance = mean_i (z_ij - m_j)^2``.
    """
    latents = tf.cast(latents, tf.float32)
    count = tf.cast(tf.shape(latents)[0], tf.float32)
    total = tf.reduce_sum(latents, axis=0)
    multi = ctx is not None and ctx.num_replicas_in_sync > 1
    if multi:
        count, total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [count, total])
    mean = total / count
    # Centred second pass: E[z^2] - m^2 cancels badly for the tiny variances of
    # a collapsed encoder.
    squares = tf.reduce_sum(tf.square(latents - mean), axis=0)
    if multi:
        squares = ctx.all_reduce(tf.distribute.ReduceOp.SUM, squares)
    return mean, squares / count


def gaussian_kl_to_standard(mean, variance, epsilon=VARIANCE_EPSILON):
    """Delta: ``KL(N(m, diag s^2) || N(0, I)) / M`` (Ulyanov et al. 2018, AGE sec. 3).

    ``Delta = (1 / M) sum_j 0.5 (m_j^2 + s_j^2 - 1 - log s_j^2)`` with
    ``s_j^2 = variance_j + epsilon``; zero iff m = 0 and s = 1, positive otherwise.
    Averaged over the M latent dimensions (not summed) to keep V2 O(1) whatever N_z.
    """
    variance = variance + epsilon
    per_dim = 0.5 * (tf.square(mean) + variance - 1.0 - tf.math.log(variance))
    return tf.reduce_mean(per_dim)


def latent_divergence(latents, ctx=None):
    """``Delta(Q || N(0, I))`` for the Gaussian fitted to a batch of latents."""
    return gaussian_kl_to_standard(*fit_gaussian(latents, ctx))


def age_losses(x, z, z_real, z_fake, reconstruction, lambda_z, mu_x, ctx=None):
    """The AGE objectives from one forward pass (Ulyanov et al. 2018).

    Args:
      x: real images; z: prior samples; z_real = e(x); z_fake = e(g(z));
      reconstruction = g(e(x)).
      lambda_z, mu_x: the weights lambda and mu of Eqs. 10 and 11.
      ctx: replica context; the Gaussian fits then use the global batch.

    Returns a dict of scalars: ``delta_real = Delta(e(X))``, ``delta_fake =
    Delta(e(g(Z)))``, ``v2 = delta_fake - delta_real``, ``l_x`` (mean |x - g(e(x))|
    over pixel values), ``l_z`` (batch mean of ||z - e(g(z))||^2), ``g_loss = v2 +
    lambda_z l_z`` (g minimises it) and ``e_loss = -(v2 - mu_x l_x)`` (e minimises
    it, i.e. maximises Eq. 11).
    """
    delta_real = latent_divergence(z_real, ctx)
    delta_fake = latent_divergence(z_fake, ctx)
    v2 = delta_fake - delta_real
    l_x = tf.reduce_mean(tf.abs(tf.cast(x, tf.float32) - tf.cast(reconstruction,
                                                                  tf.float32)))
    l_z = tf.reduce_mean(tf.reduce_sum(tf.square(z - z_fake), axis=-1))
    return {"delta_real": delta_real, "delta_fake": delta_fake, "v2": v2,
            "l_x": l_x, "l_z": l_z, "g_loss": v2 + lambda_z * l_z,
            "e_loss": mu_x * l_x - v2}


def build_sphere_encoder(config: ModelConfig, name: str = "encoder") -> keras.Model:
    """e: image -> unit vector in R^{N_z}: the BEGAN encoder (Dense to N_z; with
    ``architecture="dcgan"`` the DCGAN-style one of ``tfbegan.encoder_networks``)
    followed by L2 normalisation, so that e(x) lies on the sphere the prior lives on."""
    base = build_encoder_body(config, config.z_dim, name=f"{name}_net")
    inputs = keras.Input((config.image_size, config.image_size, config.channels),
                         name="images")
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

    Example:

    ```python
    model = tfbegan.AGE(image_size=32, channels=1, filters=16, z_dim=32)
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
                 **kwargs):
        lambda_z = check_weight("lambda_z", lambda_z)
        mu_x = check_weight("mu_x", mu_x)
        if isinstance(g_steps, bool) or not isinstance(g_steps, int) or not (
                1 <= g_steps <= 100):
            raise ValueError(f"g_steps={g_steps!r} is out of range; allowed: an integer "
                             f"in [1, 100].")
        check_range("e_lr_ratio", e_lr_ratio, 0.0, 100.0, low_open=True)
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
        config = self.model_config
        self.generator = build_generator(config)
        self.encoder = build_sphere_encoder(config)
        self._finish_init()

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
        return ("g_loss", "e_loss", "v2", "delta_real", "delta_fake", "l_z", "recon_l1")

    def get_config(self):
        config = super().get_config()
        config.update(lambda_z=self.lambda_z, mu_x=self.mu_x, g_steps=self.g_steps)
        if self.e_lr_ratio != 1.0:
            config["e_lr_ratio"] = self.e_lr_ratio
        return config

    def compute_losses(self, x, z, training, ctx=None):
        """One forward pass through e and g and :func:`age_losses`."""
        z_real = self.encoder(x, training=training)
        fake = self.generator(z, training=training)
        z_fake = self.encoder(fake, training=training)
        reconstruction = self.generator(z_real, training=training)
        out = age_losses(x, z, z_real, z_fake, reconstruction, self.lambda_z, self.mu_x,
                         ctx)
        out["recon_l1"] = out["l_x"]
        return out

    def _values(self, ctx, out):
        # Delta terms are already global; averaging identical values is harmless.
        return self._all_mean(ctx, {k: out[k] for k in self.metric_names()})

    def train_step(self, data):
        self.require_compiled()
        x = self._check_images(data)
        ctx = replica_context()
        n_rep = ctx.num_replicas_in_sync
        batch = tf.shape(x)[0]
        counter = self.step_counter() * self.g_steps
        z = self._global_z(batch, ctx, counter)
        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_losses(x, z, training=True, ctx=ctx)
            scaled = {k: getattr(self, f"{k}_optimizer").scale_loss(out[f"{k}_loss"] / n_rep)
                      for k in ("g", "e")}
        self._apply(tape, scaled)
        del tape
        for i in range(1, self.g_steps):
            self._generator_step(self._global_z(batch, ctx, counter + i), ctx, n_rep)
        return self._report(self._values(ctx, out))

    def _generator_step(self, z, ctx, n_rep):
        """A generator-only update: minimise ``Delta(e(g(z))) + lambda L_Z``."""
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            z_fake = self.encoder(self.generator(z, training=True), training=True)
            loss = latent_divergence(z_fake, ctx) + self.lambda_z * tf.reduce_mean(
                tf.reduce_sum(tf.square(z - z_fake), axis=-1))
            scaled = self.g_optimizer.scale_loss(loss / n_rep)
        grads = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(grads, variables, strict=True))

    def test_step(self, data):
        x = self._check_images(data)
        ctx = replica_context()
        z = self._global_z(tf.shape(x)[0], ctx, -1)
        out = self.compute_losses(x, z, training=False, ctx=ctx)
        return self._report(self._values(ctx, out))

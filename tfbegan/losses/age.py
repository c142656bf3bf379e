"""AGE's latent terms (Ulyanov et al. 2018): Delta, the KL of a batch's fitted Gaussian
to N(0, I) (with the authors' code's form as an option), the latent match L_Z, the
objectives of Eqs. 10 and 11, and the authors' code's adaptive adversary weight.
:mod:`tfbegan.models.age` documents the readings and trains with them.
"""

from __future__ import annotations

import math

import tensorflow as tf

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


def kl_variance_as_std(mean, variance, epsilon=VARIANCE_EPSILON):
    """Delta as the AGE authors' code computes it (Ulyanov et al. 2018, public code,
    parametric 'qp' KL): the per-dimension KL to N(0, 1) with the fitted variance
    v in the place of the standard deviation,

    ``Delta = (1 / M) sum_j (0.5 (v_j^2 + m_j^2) - log v_j - 0.5)``.

    Against :func:`gaussian_kl_to_standard` (0.5 (m^2 + v) - 0.5 log v - 0.5) the
    log term, which alone grows when a batch collapses (v -> 0), weighs twice as
    much, and the variance term is v^2 / 2; on the sphere both are minimised by
    m = 0, v_j = 1 / M.
    """
    variance = variance + epsilon
    per_dim = 0.5 * (tf.square(variance) + tf.square(mean)) - tf.math.log(variance) - 0.5
    return tf.reduce_mean(per_dim)


#: Delta's forms: "gaussian" (the KL of the fitted Gaussian, the equations' reading,
#: default) or "variance_as_std" (the authors' code, :func:`kl_variance_as_std`).
KL_FORMS = {"gaussian": gaussian_kl_to_standard, "variance_as_std": kl_variance_as_std}

#: L_Z's forms: "squared_l2" (``||z - e(g(z))||^2`` as printed, default) or
#: "cosine" (the authors' code's 'cos' match, :func:`latent_distance`).
LATENT_DISTANCES = ("squared_l2", "cosine")


def latent_divergence(latents, ctx=None, kl_form="gaussian"):
    """``Delta(Q || N(0, I))`` for the Gaussian fitted to a batch of latents."""
    return KL_FORMS[kl_form](*fit_gaussian(latents, ctx))


def latent_distance(z, z_fake, kind="squared_l2"):
    """L_Z, the batch mean of a distance between z and e(g(z)) (Ulyanov et al. 2018).

    ``squared_l2``: ``||z - e(g(z))||^2`` summed over the M latent dimensions, as
    printed (= 2 (1 - cos) on the sphere). ``cosine``: ``(1 - cos(z, e(g(z)))) / M``,
    the gradient of the authors' code's match (2 minus the mean over batch and
    latent dimensions of the products of the normalised vectors' coordinates), less
    its constant so that a perfect match gives 0.
    """
    z = tf.cast(z, tf.float32)
    z_fake = tf.cast(z_fake, tf.float32)
    if kind == "cosine":
        cos = tf.reduce_sum(tf.math.l2_normalize(z, -1) * tf.math.l2_normalize(z_fake, -1),
                            axis=-1)
        return tf.reduce_mean(1.0 - cos) / tf.cast(tf.shape(z)[-1], tf.float32)
    return tf.reduce_mean(tf.reduce_sum(tf.square(z - z_fake), axis=-1))


def age_losses(x, z, z_real, z_fake, reconstruction, lambda_z, mu_x, ctx=None,
               kl_form="gaussian", distance="squared_l2", adversary_weight=1.0):
    """The AGE objectives from one forward pass (Ulyanov et al. 2018).

    Args:
      x: real images; z: prior samples; z_real = e(x); z_fake = e(g(z));
      reconstruction = g(e(x)).
      lambda_z, mu_x: the weights lambda and mu of Eqs. 10 and 11.
      ctx: replica context; the Gaussian fits then use the global batch.
      kl_form, distance: Delta's form (:data:`KL_FORMS`) and L_Z's
        (:func:`latent_distance`).
      adversary_weight: w, the weight of Delta(e(g(Z))) in e's objective (1 in
        Eq. 11; the authors' code's adaptive "KL_fake" weight, see
        :func:`adaptive_adversary_update`). g's loss keeps weight 1.

    Returns a dict of scalars: ``delta_real = Delta(e(X))``, ``delta_fake =
    Delta(e(g(Z)))``, ``v2 = delta_fake - delta_real``, ``l_x`` (mean |x - g(e(x))|
    over pixel values), ``l_z`` (:func:`latent_distance`), ``g_loss = v2 +
    lambda_z l_z`` (g minimises it) and ``e_loss = -(v2 - mu_x l_x)`` (e minimises
    it, i.e. maximises Eq. 11; with ``adversary_weight`` w it is ``mu_x l_x + delta_real
    - w delta_fake``).
    """
    delta_real = latent_divergence(z_real, ctx, kl_form)
    delta_fake = latent_divergence(z_fake, ctx, kl_form)
    v2 = delta_fake - delta_real
    l_x = tf.reduce_mean(tf.abs(tf.cast(x, tf.float32) - tf.cast(reconstruction,
                                                                  tf.float32)))
    l_z = latent_distance(z, z_fake, distance)
    return {"delta_real": delta_real, "delta_fake": delta_fake, "v2": v2,
            "l_x": l_x, "l_z": l_z, "g_loss": v2 + lambda_z * l_z,
            "e_loss": mu_x * l_x + delta_real - adversary_weight * delta_fake}




#: The authors' code's adaptive adversary (Ulyanov et al. 2018, public code,
#: ``--adaptive_advesary_weight``): per step the encoder's KL_fake weight grows by
#: ADVERSARY_RISE and drops by ADVERSARY_DROP while Delta(e(X)) or Delta(e(g(Z)))
#: exceeds ADVERSARY_THRESHOLD times its minimum on the sphere; floored at 0.
ADVERSARY_RISE = 0.001
ADVERSARY_DROP = 0.02
ADVERSARY_THRESHOLD = 1.05


def ideal_delta(z_dim, kl_form="gaussian"):
    """Delta's minimum on the unit sphere S^{M-1}: m = 0 and v_j = 1 / M (the moments
    of the uniform distribution there), for either form of :data:`KL_FORMS`.

    gaussian: ``0.5 (1 / M - 1 + log M)``; variance_as_std: ``0.5 / M^2 + log M - 0.5``
    (the authors' code's ``get_ideal_KL``).
    """
    v = 1.0 / z_dim
    if kl_form == "variance_as_std":
        return 0.5 * v * v - math.log(v) - 0.5
    return 0.5 * (v - 1.0 - math.log(v))


def adaptive_adversary_update(weight, delta_real, delta_fake, ideal):
    """The encoder's next KL_fake weight (the authors' code's adaptive adversary).

    ``w + RISE``, less DROP when either Delta exceeds ``THRESHOLD * ideal`` (the
    encoder is winning: it crowds e(g(Z)), or it has let e(X) leave the prior), and
    at least 0. The authors also scale RISE and DROP by the current over the initial
    learning rate; the model does not know the schedule, so here they are constant.
    """
    limit = ADVERSARY_THRESHOLD * ideal
    over = tf.logical_or(delta_real > limit, delta_fake > limit)
    weight = weight + ADVERSARY_RISE - tf.where(over, ADVERSARY_DROP, 0.0)
    return tf.maximum(weight, 0.0)

"""Loss terms beside BEGAN's L(x) and L(G(z)) (pure functions, tested with
hand-computed values): Li et al. 2018's denoising loss and historical averaging,
EBGAN's pull-away term (Zhao et al. 2017), BEGAN-CS's latent constraint
(Chang et al. 2018), and VAE+BEGAN's KL and l1 terms (Khan et al. 2018)."""

from __future__ import annotations

import tensorflow as tf


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
             for v, a in zip(variables, averages, strict=True)]
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


def gaussian_kl(mu, log_var):
    """``L_n``: KL(N(mu, sigma^2) || N(0, I)) of a diagonal Gaussian (Khan et al. 2018, Eq. 3).

    ``L_n = mean_batch sum_j 0.5 (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)``

    Eq. 3 is the KL divergence between the two distributions over the whole latent
    vector, so it is summed over the latent dimensions (unlike the pixel and latent
    l1 terms, which Eqs. 2, 7 and 9 normalise by the cardinality); the scalar loss is
    the mean over the batch, like every other term.

    Args:
      mu: ``[batch, z_dim]`` means. log_var: ``[batch, z_dim]`` log-variances.

    Returns:
      float32 scalar.
    """
    mu = tf.cast(mu, tf.float32)
    log_var = tf.cast(log_var, tf.float32)
    per_sample = 0.5 * tf.reduce_sum(
        tf.square(mu) + tf.exp(log_var) - log_var - 1.0, axis=-1)
    return tf.reduce_mean(per_sample)


def l1_mean(a, b):
    """``(1/|a|) ||a - b||_1``: the mean absolute difference (Eqs. 2 and 9)."""
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))

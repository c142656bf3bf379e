"""Latent priors, sampled with stateless random ops.

Stateless sampling makes ``z`` a pure function of ``(seed, counter)``: the same on
every call, in every process and on any number of replicas, which is what exact
resume, the replica-equality tests and the exported ``sample`` signature rely on.
"""

from __future__ import annotations

import tensorflow as tf

#: The stateless RNG algorithm of every training-noise draw (z here, the denoising
#: corruption in tfbegan.models.denoising_began): see :func:`sample` for why it is fixed.
STATELESS_ALG = "philox"

PRIORS = ("uniform", "normal", "sphere")


def sample(prior, num, z_dim, seed, counter=0):
    """Draws ``[num, z_dim]`` float32 latents.

    Args:
      prior: ``"uniform"`` (U[-1, 1], BEGAN sec. 3.5), ``"normal"`` (N(0, I)) or
        ``"sphere"`` (uniform on the unit sphere S^{z_dim - 1}: N(0, I) samples
        L2-normalised, the latent space of AGE, Ulyanov et al. 2018).
      num: number of vectors (int or scalar tensor).
      z_dim: latent width.
      seed: int or int64 scalar tensor.
      counter: second seed word (for example the training step), int or tensor.
    """
    if prior not in PRIORS:
        raise ValueError(f"prior={prior!r} is not supported; allowed: {PRIORS}.")
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(counter, tf.int64)])
    # An explicit algorithm: under XLA (jit_compile, fit()'s default on GPUs)
    # "auto_select" gives other numbers than eager/graph mode even for a constant
    # key; with "philox" a constant key matches. A key computed at run time (the
    # training step) still gives another stream inside XLA (XLA's own Philox), so
    # z sequences agree within one compilation mode, not across modes.
    shape = tf.stack([tf.cast(num, tf.int32), z_dim])
    if prior == "uniform":
        return tf.random.stateless_uniform(shape, seed=key, minval=-1.0, maxval=1.0,
                                           alg=STATELESS_ALG)
    z = tf.random.stateless_normal(shape, seed=key, alg=STATELESS_ALG)
    if prior == "sphere":
        # A standard normal is rotation invariant, so its direction is uniform.
        z = tf.math.l2_normalize(z, axis=-1)
    return z

"""Latent-space tools: z-inversion of real images and interpolation (BEGAN sec. 4.3).

BEGAN Berthelot et al. 2017, section 4.3 ("Space continuity") maps a real image ``x_r`` to a
latent ``z_r`` by minimising ``e_r = |x_r - G(z_r)|`` with Adam, then decodes a
linear interpolation between the ``z_r`` of two real images (Figure 4c: the real
images in the first and last columns, their reconstructions ``G(z_r)`` next to them,
the interpolation in between). :func:`invert`, :func:`interpolate` and
:func:`figure4_rows` compute exactly that; ``tfbegan-invert`` writes the grid.

``generator`` may be a Keras model (``model.generator``), a BEGAN-like model with a
``generator`` attribute, a loaded SavedModel (its ``serving_default`` signature is
used) or any callable ``z -> images`` (for example ``loaded.signatures[...]``); a
callable returning a dict contributes its ``images_float`` entry (the float32
output of ``tfbegan.serving.export``). Gradients flow through restored SavedModel
signatures (checked in ``tests/serving/test_latent.py`` on an ``ExportArchive`` export), so
inversion works on exported models without the training code. Generators are
called through :mod:`tfbegan.serving.loading`.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tfbegan.models import priors
from tfbegan.serving.loading import as_generator_fn, generate


# ---------------------------------------------------------------------- inversion
def _project(z, prior):
    """Keeps z in the prior's support: U[-1, 1] is a box; N(0, I) has no bound."""
    if prior == "uniform":
        return tf.clip_by_value(z, -1.0, 1.0)
    return z


def invert(generator, images, steps=500, learning_rate=0.05, prior="uniform", seed=0,
           batch_size=64, z_dim=None, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Finds ``z`` with ``G(z) ~ x`` for real images (BEGAN sec. 4.3).

    Minimises ``e_r = mean |x - G(z)|`` (mean over pixels, per image) with Adam,
    each image's ``z`` independently: the objective is the *sum* over the batch of
    per-image errors, so an image's gradient does not depend on the batch size.
    After every step ``z`` is projected back onto the prior's support (clipped to
    [-1, 1] for the uniform prior; the normal prior is unbounded). The learning
    rate follows a cosine decay from ``learning_rate`` to 0 over ``steps``, which
    lets the sign-like gradient of the L1 error settle instead of oscillating.
    The best ``z`` seen for each image (lowest error) is returned.

    Args:
      generator: a Keras generator, a tfbegan model, a loaded SavedModel or a
        callable ``z -> images`` (see :func:`as_generator_fn`).
      images: ``[N, H, W, C]`` float images in [-1, 1] (the generator's shape).
      steps: Adam steps (>= 1).
      learning_rate: initial Adam learning rate (> 0).
      prior: ``"uniform"`` or ``"normal"``; the start ``z`` is drawn from it
        (stateless, keyed by ``seed``).
      seed: seed of the initial ``z``.
      batch_size: images optimised together.
      z_dim: latent width; needed only when it cannot be read from ``generator``.

    Returns:
      ``(z, errors)``: float32 ``[N, z_dim]`` and ``[N]`` (``mean |x - G(z)|``).
    """
    if prior not in priors.PRIORS:
        raise ValueError(f"prior={prior!r} is not supported; allowed: {priors.PRIORS}.")
    if int(steps) < 1:
        raise ValueError(f"steps={steps!r} must be >= 1.")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate={learning_rate!r} must be > 0.")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size!r} must be >= 1.")
    fn, found_dim = as_generator_fn(generator)
    z_dim = z_dim or found_dim
    if not z_dim:
        raise ValueError("z_dim could not be read from the generator; pass z_dim=.")
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty [N, H, W, C] array, got shape "
                         f"{images.shape}.")
    steps = int(steps)
    z0_all = priors.sample(prior, len(images), z_dim, seed).numpy()

    loop = _make_adam_loop(fn, images.shape[1:], z_dim, steps, float(learning_rate),
                           prior, beta1, beta2, epsilon)
    zs, errs = [], []
    for i in range(0, len(images), batch_size):
        z, err = loop(tf.constant(images[i:i + batch_size]),
                      tf.constant(z0_all[i:i + batch_size]))
        zs.append(z.numpy())
        errs.append(err.numpy())
    return np.concatenate(zs), np.concatenate(errs)


def _per_image_error(x, g):
    return tf.reduce_mean(tf.abs(x - g), axis=[1, 2, 3])


def _make_adam_loop(fn, image_shape, z_dim, steps, learning_rate, prior, beta1, beta2,
                    epsilon):
    """Adam written out by hand (element-wise, so each image's z follows its own
    trajectory) in one ``tf.while_loop``; traced once for any batch size."""

    @tf.function(input_signature=[
        tf.TensorSpec([None, *image_shape], tf.float32),
        tf.TensorSpec([None, z_dim], tf.float32)])
    def loop(x, z0):
        def body(t, z, m, v, best_z, best_err):
            with tf.GradientTape() as tape:
                tape.watch(z)
                err = _per_image_error(x, fn(z))
                total = tf.reduce_sum(err)
            grad = tape.gradient(total, z)
            # err scores the z before this update: keep the best seen.
            better = err < best_err
            best_err = tf.where(better, err, best_err)
            best_z = tf.where(better[:, None], z, best_z)
            step = tf.cast(t + 1, tf.float32)
            lr = 0.5 * learning_rate * (
                1.0 + tf.cos(math.pi * tf.cast(t, tf.float32) / steps))
            m = beta1 * m + (1.0 - beta1) * grad
            v = beta2 * v + (1.0 - beta2) * tf.square(grad)
            m_hat = m / (1.0 - beta1 ** step)
            v_hat = v / (1.0 - beta2 ** step)
            z = _project(z - lr * m_hat / (tf.sqrt(v_hat) + epsilon), prior)
            return t + 1, z, m, v, best_z, best_err

        z0 = _project(z0, prior)
        zeros = tf.zeros_like(z0)
        inf = tf.fill([tf.shape(z0)[0]], np.float32(np.inf))
        _, z, _, _, best_z, best_err = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), z0, zeros, zeros, z0, inf))
        # The last update has not been scored yet.
        err = _per_image_error(x, fn(z))
        better = err < best_err
        return tf.where(better[:, None], z, best_z), tf.where(better, err, best_err)

    return loop


# ---------------------------------------------------------------------- interpolation
def interpolate(z0, z1, steps, spherical=False):
    """Points from ``z0`` to ``z1`` inclusive (BEGAN Figure 4 uses linear paths).

    Linear: ``z(t) = (1 - t) z0 + t z1``. Spherical (``spherical=True``, Shoemake's
    slerp, as White 2016 suggests for Gaussian priors):
    ``z(t) = sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1`` with
    ``cos W = z0.z1 / (|z0| |z1|)``, falling back to linear where W is ~0 or ~pi
    (the great circle is undefined). ``t`` runs over ``linspace(0, 1, steps)`` and
    the endpoints are exactly ``z0`` and ``z1``. Note that a slerp path between
    two points of the [-1, 1] cube may leave the cube; linear paths never do.

    Args:
      z0, z1: ``[z_dim]`` or ``[B, z_dim]`` (broadcast together).
      steps: number of points (>= 2).

    Returns:
      float32 ``[steps, z_dim]`` for vector inputs, ``[B, steps, z_dim]`` for batches.
    """
    if int(steps) < 2:
        raise ValueError(f"steps={steps!r} must be >= 2 (the two endpoints).")
    z0 = np.asarray(z0, np.float64)
    z1 = np.asarray(z1, np.float64)
    vector = z0.ndim == 1 and z1.ndim == 1
    a, b = np.broadcast_arrays(np.atleast_2d(z0), np.atleast_2d(z1))
    t = np.linspace(0.0, 1.0, int(steps))[None, :, None]  # [1, S, 1]
    a3, b3 = a[:, None, :], b[:, None, :]
    out = (1.0 - t) * a3 + t * b3
    if spherical:
        na = np.linalg.norm(a, axis=-1)
        nb = np.linalg.norm(b, axis=-1)
        denom = np.maximum(na * nb, 1e-12)
        omega = np.arccos(np.clip(np.sum(a * b, axis=-1) / denom, -1.0, 1.0))
        sin_omega = np.sin(omega)
        ok = (sin_omega > 1e-6) & (na > 0) & (nb > 0)
        safe = np.where(ok, sin_omega, 1.0)[:, None, None]
        om = omega[:, None, None]
        slerp = (np.sin((1.0 - t) * om) / safe) * a3 + (np.sin(t * om) / safe) * b3
        out = np.where(ok[:, None, None], slerp, out)
    out[:, 0] = a
    out[:, -1] = b
    out = out.astype(np.float32)
    return out[0] if vector else out


# ---------------------------------------------------------------------- Figure 4
def figure4_rows(generator, images_a, images_b, steps=8, spherical=False,
                 prior="uniform", inversion_steps=500, learning_rate=0.05, seed=0,
                 batch_size=64):
    """The rows of BEGAN Figure 4c for pairs of real images.

    Each row is ``[x_a, G(z_a), G(z(t_1)), ..., G(z(t_steps)), G(z_b), x_b]``: the
    real images at both ends, their reconstructions next to them and ``steps``
    images decoded from the interpolation in between (exclusive of the
    endpoints). ``z_a``, ``z_b`` come from :func:`invert`.

    Returns:
      ``(rows, errors)``: float32 ``[pairs, steps + 4, H, W, C]`` in [-1, 1] and the
      reconstruction errors ``[pairs, 2]`` (of ``x_a``, ``x_b``).
    """
    images_a = np.asarray(images_a, np.float32)
    images_b = np.asarray(images_b, np.float32)
    if images_a.shape != images_b.shape:
        raise ValueError(f"images_a {images_a.shape} and images_b {images_b.shape} "
                         "must have the same shape.")
    n = len(images_a)
    z, err = invert(generator, np.concatenate([images_a, images_b]),
                    steps=inversion_steps, learning_rate=learning_rate, prior=prior,
                    seed=seed, batch_size=batch_size)
    path = interpolate(z[:n], z[n:], int(steps) + 2, spherical=spherical)
    if prior == "uniform":
        path = np.clip(path, -1.0, 1.0)  # slerp may step outside the cube
    flat = path.reshape(-1, path.shape[-1])
    decoded = generate(generator, flat, batch_size).reshape(
        (n, int(steps) + 2) + images_a.shape[1:])
    rows = np.concatenate([images_a[:, None], decoded, images_b[:, None]], axis=1)
    return rows, np.stack([err[:n], err[n:]], axis=1)


# ---------------------------------------------------------------------- sources

"""Per-sample distances between images and their auto-encoder reconstructions.

BEGAN (paper 001, Eq. 1 and sec. 3.1): ``L(v) = mean |v - D(v)|^eta`` with eta in
{1, 2}, the mean over pixels (and channels) of each sample; the scalar loss is the
batch mean of the per-sample values.
"""

from __future__ import annotations

import tensorflow as tf


def pixel_distance(v, reconstruction, eta=1):
    """Per-sample ``mean |v - D(v)|^eta`` over height, width and channels.

    Args:
      v: images ``[batch, H, W, C]``.
      reconstruction: ``D(v)``, same shape.
      eta: 1 (l1, the paper's choice) or 2 (squared l2).

    Returns:
      float32 ``[batch]``.
    """
    if eta not in (1, 2):
        raise ValueError(f"eta={eta!r} is not supported; allowed values: 1, 2.")
    diff = tf.cast(v, tf.float32) - tf.cast(reconstruction, tf.float32)
    err = tf.abs(diff) if eta == 1 else tf.square(diff)
    return tf.reduce_mean(err, axis=[1, 2, 3])


def pixel_loss(v, reconstruction, eta=1):
    """Scalar ``L(v)``: the batch mean of :func:`pixel_distance`."""
    return tf.reduce_mean(pixel_distance(v, reconstruction, eta))


def make_distance(spec=None, eta=1):
    """Returns the per-sample distance ``f(v, reconstruction) -> [batch]``.

    ``spec=None`` is the paper's pixel loss with exponent ``eta``.
    """
    if spec is None:
        if eta not in (1, 2):
            raise ValueError(f"eta={eta!r} is not supported; allowed values: 1, 2.")
        return lambda v, r: pixel_distance(v, r, eta)
    raise ValueError(f"distance={spec!r} is not supported yet.")

"""An exponential moving average of the generator's weights (Yazici et al. 2019).

Yazici et al. 2019 ("The Unusual Effectiveness of Averaging in GAN Training") sample
from an exponential moving average of G's parameters instead of the last iterate:
the average smooths out the rotation of simultaneous gradient play around the
equilibrium and lowers FID. The functions below keep such an average for a
BEGAN-family model when ``generator_ema = d > 0`` (:func:`build_shadow`,
:func:`update_shadow`):

* a *shadow* generator ``ema_generator``, built like ``generator`` and not trainable,
  starts as a copy of G;
* after each generator update t (1, 2, ...; G's optimizer's ``iterations``) every
  trainable weight moves ``ema = d_t ema + (1 - d_t) w`` with the warmed-up decay
  ``d_t = min(d, (1 + t) / (10 + t))`` (the ``num_updates`` rule of TensorFlow's
  ``tf.train.ExponentialMovingAverage``): early on the shadow follows G closely
  instead of averaging in its random initial weights (with d = 0.999 and no warm-up
  the shadow would lag ~1,000 steps behind; with it the window is about the last
  t / 9 steps until d_t reaches d at t ~ 9,000). Non-trainable weights (batch norm's
  moving mean and variance) are copied;
* :attr:`sampling_generator` is the shadow: ``model.generate``, the sample grids,
  the quality callbacks, ``tfbegan-evaluate`` and the export all draw from it.
  Training itself (L(G(z)), D's and G's gradients) uses the live ``generator``.

The shadow is a model attribute, so ``.keras`` checkpoints hold it and a resumed run
continues the same average. Under ``MirroredStrategy`` Keras creates layer weights
with aggregation "none", which lets each replica assign its own copy; the update
all-reduces (mean) the new values before assigning, so every replica holds the same
shadow whatever its copy of G's batch-norm statistics. With ``generator_ema = 0``
(the default of every class and every paper flagfile) nothing is built and
checkpoints are unchanged.
"""

from __future__ import annotations

import tensorflow as tf

#: The warm-up's constants: ``d_t = min(d, (1 + t) / (WARMUP + t))``.
WARMUP = 10.0


def ema_decay(decay, updates):
    """The decay after ``updates`` generator updates: ``min(d, (1 + t) / (10 + t))``."""
    t = tf.cast(updates, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + t) / (WARMUP + t))


def build_shadow(generator, build):
    """The shadow of ``generator``: ``build()`` (a network of the same architecture),
    not trainable, starting as a copy of G's weights."""
    shadow = build()
    shadow.trainable = False
    for shadow_weight, weight in zip(shadow.weights, generator.weights, strict=True):
        shadow_weight.assign(weight)
    return shadow


def update_shadow(shadow, generator, decay, updates):
    """One EMA step after generator update number ``updates``, in the train step's
    replica context: trainable weights move ``ema = d_t ema + (1 - d_t) w``, the others
    (batch-norm statistics) are copied; the new values are all-reduced (mean) so that
    every replica holds the same shadow."""
    d_t = ema_decay(decay, updates)
    new = []
    for shadow_weight, weight in zip(shadow.weights, generator.weights, strict=True):
        w = tf.convert_to_tensor(weight)
        if weight.trainable:
            w = d_t * tf.convert_to_tensor(shadow_weight) + (1.0 - d_t) * w
        new.append(w)
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        new = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, new)
    for shadow_weight, value in zip(shadow.weights, new, strict=True):
        shadow_weight.assign(value)

"""An exponential moving average of the generator's weights (Yazici et al. 2019).

Yazici et al. 2019 ("The Unusual Effectiveness of Averaging in GAN Training") sample
from an exponential moving average of G's parameters instead of the last iterate:
the average smooths out the rotation of simultaneous gradient play around the
equilibrium and lowers FID. :class:`GeneratorEMAMixin` keeps such an average for a
BEGAN-family model when ``generator_ema = d > 0``:

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

from tfbegan.checks import check_range

#: The warm-up's constants: ``d_t = min(d, (1 + t) / (WARMUP + t))``.
WARMUP = 10.0


def check_generator_ema(value):
    """Raises ``ValueError`` unless the EMA decay is in [0, 1) (0 = off)."""
    check_range("generator_ema", value, 0.0, 1.0, high_open=True)


def ema_decay(decay, updates):
    """The decay after ``updates`` generator updates: ``min(d, (1 + t) / (10 + t))``."""
    t = tf.cast(updates, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + t) / (WARMUP + t))


class GeneratorEMAMixin:
    """The shadow generator of a model with ``generator``, ``g_optimizer`` and
    ``build_generator_network(config)``; see the module docstring."""

    generator_ema = 0.0
    ema_generator = None

    def init_generator_ema(self, decay, config):
        """Builds the shadow (a copy of ``generator``) when ``decay > 0``."""
        check_generator_ema(decay)
        self.generator_ema = float(decay)
        if self.generator_ema <= 0:
            return
        self.ema_generator = self.build_generator_network(config)
        self.ema_generator.trainable = False
        for shadow, weight in zip(self.ema_generator.weights, self.generator.weights,
                                  strict=True):
            shadow.assign(weight)

    @property
    def sampling_generator(self):
        """The network samples come from: the shadow when on, else ``generator``."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def add_ema_config(self, config):
        """``config`` plus ``generator_ema`` when on (earlier configs stay equal)."""
        if self.generator_ema > 0:
            config["generator_ema"] = self.generator_ema
        return config

    def update_generator_ema(self):
        """One EMA step after a generator update (in the train step's replica
        context; a no-op when off)."""
        if self.ema_generator is None:
            return
        decay = ema_decay(self.generator_ema, self.g_optimizer.iterations)
        shadows = self.ema_generator.weights
        new = []
        for shadow, weight in zip(shadows, self.generator.weights, strict=True):
            w = tf.convert_to_tensor(weight)
            if weight.trainable:
                w = decay * tf.convert_to_tensor(shadow) + (1.0 - decay) * w
            new.append(w)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            new = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, new)
        for shadow, value in zip(shadows, new, strict=True):
            shadow.assign(value)

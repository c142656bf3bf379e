"""The global step: the one definition every callback, checkpoint and signal handler uses.

A model's step is its first optimizer's ``iterations`` (a GAN's ``optimizers[0]``, whose
order each family fixes in ``optimizer_networks``; ``model.optimizer`` for any other
Keras model). It is saved with the optimizer, so a fresh run, a resumed run and a
user's own ``fit`` loop all count the same steps. Imports nothing from tfbegan.
"""

from __future__ import annotations

import keras


def global_step(model):
    """The number of optimizer steps ``model`` has taken, or None before compile."""
    opts = getattr(model, "optimizers", None) or [getattr(model, "optimizer", None)]
    if not opts or opts[0] is None:
        return None
    return int(keras.ops.convert_to_numpy(opts[0].iterations))

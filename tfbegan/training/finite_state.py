"""Whether a model's state is one training can continue from: every weight and
optimizer variable finite. A checkpoint is only ever written from such a state
(``tfbegan.training.checkpoints.save_checkpoint``)."""

from __future__ import annotations

import keras
import numpy as np


class NonFiniteStateError(FloatingPointError):
    """The model's weights or optimizer state hold NaN or Inf: nothing was written."""


def non_finite_state(model):
    """Paths of the model's weights and optimizer variables holding NaN or Inf.

    A loss can stay finite for the step whose update made the weights non-finite, so
    the losses alone do not tell whether a state is good.
    """
    variables = list(model.weights)
    for opt in getattr(model, "optimizers", None) or [getattr(model, "optimizer", None)]:
        if opt is not None:
            variables += list(opt.variables)
    bad = []
    for v in variables:
        value = np.asarray(keras.ops.convert_to_numpy(v))
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            bad.append(getattr(v, "path", None) or v.name)
    return bad

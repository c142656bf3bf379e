"""Health checks during training: k stuck at a clip bound, non-finite losses."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np

from tfbegan.steps import global_step

logger = logging.getLogger("tfbegan")


class EquilibriumMonitor(keras.callbacks.Callback):
    """Warns once when k has sat at 0 (or at 1) for ``patience`` steps.

    k is BEGAN's equilibrium control variable, clipped to [0, 1] (Berthelot et al.
    2017, Eq. 4). k pinned at 0 means D ignores generated images (L(G(z)) > gamma L(x)
    all the time): typically G found images D cannot auto-encode, or collapsed. k
    pinned at 1 means G's images are reconstructed far better than real ones. Both are
    the most reported BEGAN failure modes; the warning says what usually helps.
    Stretches are measured in global steps, so ``steps_per_execution > 1`` changes
    nothing but the resolution.
    """

    ADVICE = {
        0: ("k has been 0 for {n} steps: the discriminator ignores generated images "
            "(L(G(z)) stays above gamma*L(x)). Try a larger gamma, a larger lambda_k, a "
            "lower generator learning rate, or check that images are scaled to [-1, 1]."),
        1: ("k has been 1 for {n} steps: generated images are reconstructed much better "
            "than real ones (typically a collapsed generator). Try a smaller gamma, a "
            "lower learning rate or a smaller lambda_k."),
    }

    def __init__(self, patience=1000, tolerance=1e-6):
        super().__init__()
        self.patience = patience
        self.tolerance = tolerance
        self._since = {0: None, 1: None}
        self.warned = set()

    def on_train_batch_end(self, batch, logs=None):
        if "k" not in (logs or {}):
            return
        k = float(np.ravel(logs["k"])[0])
        step = global_step(self.model)
        for bound in (0, 1):
            if abs(k - bound) <= self.tolerance:
                if self._since[bound] is None:
                    self._since[bound] = step
                n = step - self._since[bound]
                if n >= self.patience and bound not in self.warned:
                    self.warned.add(bound)
                    logger.warning("step %d: %s", step, self.ADVICE[bound].format(n=n))
            else:
                self._since[bound] = None


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN/Inf in a logged loss, naming the step.

    After ``fit`` returns, ``failure`` holds the message (None when all was finite);
    :class:`~tfbegan.callbacks.Checkpointer` checks it and never saves a non-finite
    state.

    Why not ``keras.callbacks.TerminateOnNaN``: it watches only the ``loss`` key,
    which a GAN with one optimizer per network does not log (its losses are
    ``d_loss``, ``g_loss``, ...), and it keeps no record the checkpointer can read.
    """

    def __init__(self):
        super().__init__()
        self.failure = None

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if np.ndim(value) == 0 and not math.isfinite(float(value)):
                step = global_step(self.model)
                self.failure = f"non-finite {key}={float(value)} at step {step}"
                self.model.stop_training = True
                return

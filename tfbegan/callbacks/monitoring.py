"""Health checks during training: k stuck at a clip bound, non-finite losses."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np

from tfbegan.callbacks.base import PeriodTracker, WindowMeans
from tfbegan.checks import check_period
from tfbegan.steps import global_step

logger = logging.getLogger("tfbegan")


class EquilibriumMonitor(keras.callbacks.Callback):
    """Warns once when k has sat at 0 (or at 1) for ``patience`` steps while the
    convergence measure stalled.

    k is BEGAN's equilibrium control variable, clipped to [0, 1] (Berthelot et al.
    2017, Eq. 4). k pinned at 0 means D ignores generated images (L(G(z)) > gamma L(x)
    all the time): typically G found images D cannot auto-encode, or collapsed. k
    pinned at 1 means G's images are reconstructed far better than real ones. Both are
    the most reported BEGAN failure modes; the warning says what usually helps.

    A pinned k alone is no failure: early in a run, while G's images are still
    smoother than the data, k often sits at 1 for a thousand steps as M_global falls
    (the no-flag digits run does). So the warning also needs M_global (``monitor``)
    to have stopped improving: the best window mean of the stretch's second half is
    not ``min_improvement`` below the best of its first half. M_global is read as
    means over windows of ``patience // 10`` steps (:class:`WindowMeans`). Stretches
    are measured in global steps, so ``steps_per_execution > 1`` changes nothing but
    the resolution.
    """

    ADVICE = {
        0: ("k has been 0 for {n} steps while M_global stalled: the discriminator "
            "ignores generated images (L(G(z)) stays above gamma*L(x)). Try a larger "
            "gamma, a larger lambda_k, a lower generator learning rate, or check that "
            "images are scaled to [-1, 1]."),
        1: ("k has been 1 for {n} steps while M_global stalled: generated images are "
            "reconstructed much better than real ones (typically a collapsed "
            "generator). Try a smaller gamma, a lower learning rate or a smaller "
            "lambda_k."),
    }

    def __init__(self, patience=1000, tolerance=1e-6, min_improvement=0.05,
                 monitor="m_global"):
        super().__init__()
        self.patience = check_period("patience", patience)
        self.tolerance = tolerance
        self.min_improvement = min_improvement
        self.monitor = monitor
        self._windows = PeriodTracker(max(1, self.patience // 10))
        self._means = WindowMeans()
        self._since = {0: None, 1: None}
        self._history = []  # (step, window mean of the monitor)
        self.warned = set()

    def on_train_begin(self, logs=None):
        self._windows.start(global_step(self.model))
        self._means = WindowMeans()

    def _record(self, batch, logs, step):
        self._means.update(self.model, batch, logs)
        if self.monitor in logs and self._windows.crossed(step):
            self._history.append((step, self._means.take(logs)[self.monitor]))

    def _stalled(self, since):
        """True when the monitor did not improve over the stretch from ``since``
        (also when it is not logged: then k alone decides)."""
        values = [(s, v) for s, v in self._history if s > since]
        if not values:
            return True
        middle = since + (values[-1][0] - since) / 2
        first = [v for s, v in values if s <= middle]
        second = [v for s, v in values if s > middle]
        if not first or not second:
            return True
        return min(second) > min(first) * (1 - self.min_improvement)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        if "k" not in logs:
            return
        step = global_step(self.model)
        self._record(batch, logs, step)
        k = float(np.ravel(logs["k"])[0])
        for bound in (0, 1):
            if abs(k - bound) > self.tolerance:
                self._since[bound] = None
                continue
            if self._since[bound] is None:
                self._since[bound] = step
            n = step - self._since[bound]
            if (n >= self.patience and bound not in self.warned
                    and self._stalled(self._since[bound])):
                self.warned.add(bound)
                logger.warning("step %d: %s", step, self.ADVICE[bound].format(n=n))


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

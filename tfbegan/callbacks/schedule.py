"""Learning-rate decay of every optimizer of a GAN when the convergence measure stalls
(Berthelot et al. 2017, sec. 4.1), or on a fixed schedule (Vertolli & Davies 2017)."""

from __future__ import annotations

import logging
import math

import keras

from tfbegan.callbacks.base import PeriodTracker, WindowMeans, get_lr, optimizers, set_lr
from tfbegan.checks import check_period
from tfbegan.steps import global_step

logger = logging.getLogger("tfbegan")


def _non_negative(name, value):
    """``value`` if it is a number >= 0, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name}={value!r} must be a number >= 0.")
    return value


class ConvergenceLRDecay(keras.callbacks.Callback):
    """Multiplies every optimizer's learning rate by ``factor`` on a stall.

    Berthelot et al. 2017, sec. 4.1: "decaying by a factor of 2 when the measure of
    convergence stalls". A stall is ``patience`` steps in which the monitored metric
    (M_global, as reported in the logs) did not fall below ``best * (1 - min_delta)``.
    Rates never go below ``min_lr``. ``decay_every`` > 0 additionally decays once per
    period of that many steps (Vertolli & Davies 2017 halves every 100,000 steps),
    with the period-crossing rule of :mod:`tfbegan.callbacks.base`, so
    ``steps_per_execution > 1`` skips no decay and a resumed run repeats none. Unlike
    ``keras.callbacks.ReduceLROnPlateau`` this touches *all* optimizers of a GAN.

    Args:
      patience: steps without improvement before a decay; 0 disables stall decay.
      factor: multiplier in (0, 1).
      min_lr: floor.
      monitor: log key; defaults to ``model.convergence_metric`` ("m_global").
      min_delta: relative improvement that counts.
      decay_every: fixed-schedule decay period in steps (0 = off).
      every: steps per comparison window of the monitored metric.
    """

    def __init__(self, patience=2000, factor=0.5, min_lr=1e-6, monitor=None,
                 min_delta=1e-3, decay_every=0, every=100):
        super().__init__()
        self._windows = PeriodTracker(check_period("every", every))
        self._means = WindowMeans()
        if not 0 < factor < 1:
            raise ValueError(f"factor={factor!r} is out of range; allowed: (0, 1).")
        self.factor = factor
        self.patience = _non_negative("patience", patience)
        self.min_lr = _non_negative("min_lr", min_lr)
        self.monitor = monitor
        self.min_delta = _non_negative("min_delta", min_delta)
        self.decay_every = _non_negative("decay_every", decay_every)
        self._schedule = PeriodTracker(decay_every) if decay_every else None
        self.best = math.inf
        self.best_step = None
        self.decays = []

    def get_state(self):
        return {"best": self.best if math.isfinite(self.best) else None,
                "best_step": self.best_step, "decays": self.decays}

    def set_state(self, state):
        best = state.get("best")
        self.best = math.inf if best is None else float(best)
        self.best_step = state.get("best_step")
        self.decays = list(state.get("decays", []))

    def _decay(self, step, reason):
        changed = False
        for opt in optimizers(self.model):
            old = get_lr(opt)
            new = max(old * self.factor, self.min_lr)
            if new < old:
                set_lr(opt, new)
                changed = True
        if changed:
            lrs = [get_lr(o) for o in optimizers(self.model)]
            self.decays.append([step, lrs[0]])
            logger.info("step %d: %s; learning rates -> %s", step, reason,
                        ", ".join(f"{lr:.3g}" for lr in lrs))

    def on_train_begin(self, logs=None):
        self._windows.start(global_step(self.model))
        self._means = WindowMeans()
        if self._schedule is not None:
            # The checkpoint of a resumed run already holds this period's decay.
            self._schedule.start(global_step(self.model))

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        step = global_step(self.model)
        if self._schedule is not None and self._schedule.crossed(step):
            self._decay(step, f"scheduled decay every {self.decay_every} steps")
        if not self.patience:
            return
        self._means.update(self.model, batch, logs)
        key = self.monitor or getattr(self.model, "convergence_metric", "m_global")
        if key not in logs or not self._windows.crossed(step):
            return
        value = self._means.take(logs)[key]
        if self.best_step is None or value < self.best * (1 - self.min_delta):
            self.best, self.best_step = value, step
        elif step - self.best_step >= self.patience:
            self._decay(step, f"{key} has not improved on {self.best:.4f} for "
                              f"{step - self.best_step} steps")
            # Give the lower rate a full patience window.
            self.best, self.best_step = value, step

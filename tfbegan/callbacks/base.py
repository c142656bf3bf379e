"""The global step, optimizer helpers and the one step-cadence rule of the callbacks.

Every tfbegan callback reads the training step from the model's first optimizer
(``model.optimizers[0].iterations``), so it behaves the same in a fresh run, a resumed
run and a user's own ``fit`` loop.

Cadence rule (:class:`PeriodicCallback`): a callback with period ``every`` acts when
``step // every`` has grown since the last time it acted. With
``fit(steps_per_execution=k)`` Keras calls ``on_train_batch_end`` only after every k-th
step (4, 8, 12, ... for k = 4), so a test ``step % every == 0`` would skip every
period whose multiple is not also a multiple of k; the crossing rule fires at the first
step seen in each new period instead (12 and 20 for ``every=10``). The baseline is the
step at ``on_train_begin``, so a resumed run does not act again on the period its
checkpoint already covered.

Window means (:class:`WindowMeans`): Keras resets a model's ``Mean`` trackers at every
epoch, so the logs a callback sees are epoch-to-date means; in a user's
``fit(steps_per_epoch=25)`` a periodic callback would see a mean over 1..25 steps,
whose span jumps at each epoch boundary. The periodic callbacks report the mean over
exactly the steps since they last acted instead, whatever ``steps_per_epoch`` is.
"""

from __future__ import annotations

import keras
import numpy as np

from tfbegan.checks import check_period
from tfbegan.steps import global_step


def optimizers(model):
    """Every optimizer of ``model``: a GAN's list, else ``[model.optimizer]``."""
    opts = getattr(model, "optimizers", None)
    return list(opts) if opts else [model.optimizer]


def get_lr(opt):
    """The optimizer's current learning rate as a Python float."""
    return float(np.asarray(keras.ops.convert_to_numpy(opt.learning_rate)))


def set_lr(opt, value):
    """Sets the optimizer's learning rate variable to ``value``."""
    opt.learning_rate.assign(value)


class PeriodTracker:
    """Remembers the last period acted on; :meth:`crossed` says when a new one begins.

    Used by :class:`PeriodicCallback` and by callbacks with a second schedule
    (``ConvergenceLRDecay.decay_every``).
    """

    def __init__(self, every):
        self.every = every
        self.last_period = None

    def start(self, step):
        """Sets the baseline: the period of ``step`` counts as already handled."""
        self.last_period = step // self.every

    def crossed(self, step):
        """True once per new period reached by ``step`` (records it).

        Without a baseline (``on_train_begin`` not called, e.g. a hand-driven test)
        the previous step is taken as ``step - 1``, which reduces to
        ``step % every == 0`` for that first call.
        """
        if self.last_period is None:
            self.last_period = (step - 1) // self.every
        period = step // self.every
        if period > self.last_period:
            self.last_period = period
            return True
        return False


def scalar_logs(logs):
    """The scalar (or one-element) entries of Keras logs as floats."""
    return {k: float(np.ravel(v)[0]) for k, v in (logs or {}).items() if np.size(v) == 1}


class WindowMeans:
    """Means of the model's tracked metrics over the steps since the last :meth:`take`.

    Keras logs hold, for each ``Mean`` tracker, the mean over the epoch's first
    ``batch + 1`` steps (``batch`` is the epoch's 0-based index of the last step, also
    with ``steps_per_execution > 1``). So ``mean * (batch + 1)`` is the epoch's running
    sum; the sums of finished epochs are kept, and a window's mean is the difference
    of two totals over the difference of two step counts. An epoch is seen to begin
    when ``batch`` does not grow. Values that are not running means (``k``, any key
    the model does not track with a ``Mean``) pass through as they are.
    """

    def __init__(self):
        self._closed, self._closed_n = {}, 0
        self._epoch, self._epoch_n = {}, 0
        self._mark, self._mark_n = {}, 0
        self._last_batch = None

    @staticmethod
    def _mean_keys(model):
        return {m.name for m in getattr(model, "metrics", ())
                if isinstance(m, keras.metrics.Mean)}

    def update(self, model, batch, logs):
        """Records the logs of ``on_train_batch_end(batch, logs)``."""
        if self._last_batch is not None and batch <= self._last_batch:
            for key, value in self._epoch.items():
                self._closed[key] = self._closed.get(key, 0.0) + value
            self._closed_n += self._epoch_n
        self._last_batch = batch
        keys = self._mean_keys(model)
        self._epoch = {k: v * (batch + 1) for k, v in scalar_logs(logs).items()
                       if k in keys}
        self._epoch_n = batch + 1

    def take(self, logs):
        """``logs`` as floats, each running mean replaced by its window mean; starts
        the next window."""
        values = scalar_logs(logs)
        count = self._closed_n + self._epoch_n
        totals = {k: self._closed.get(k, 0.0) + v for k, v in self._epoch.items()}
        if count > self._mark_n:
            for key, total in totals.items():
                values[key] = (total - self._mark.get(key, 0.0)) / (count - self._mark_n)
        self._mark, self._mark_n = totals, count
        return values


class PeriodicCallback(keras.callbacks.Callback):
    """Base: calls :meth:`on_step` once each time the global step enters a new
    period of ``every`` steps (see the module docstring for why not ``step % every``),
    with the metrics' means over the period's steps.

    Args:
      every: period in global steps (integer >= 1).
      name: argument name used in the error message.
    """

    def __init__(self, every, name="every"):
        super().__init__()
        self.every = check_period(name, every)
        self._periods = PeriodTracker(self.every)

    def on_train_begin(self, logs=None):
        self._periods.start(global_step(self.model))
        self._windows = WindowMeans()

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        windows = getattr(self, "_windows", None)
        if windows is None:  # driven by hand, without on_train_begin
            windows = self._windows = WindowMeans()
        windows.update(self.model, batch, logs)
        if self._periods.crossed(step):
            self.on_step(step, windows.take(logs))

    def on_step(self, step, logs):
        """Acts at ``step``; ``logs`` are floats, running means taken over the steps
        since the last call (:class:`WindowMeans`)."""  # pragma: no cover - abstract
        raise NotImplementedError


class StopAtStep(keras.callbacks.Callback):
    """Stops ``fit`` once the global step reaches ``last_step`` (the run's total,
    whatever step a resumed run started from).

    Why not ``fit(steps_per_epoch=..., epochs=...)`` alone: those count this call's
    batches, so a run resumed at step 1,200 of 3,000 would train 3,000 more; this
    counts the optimizer's saved step.
    """

    def __init__(self, last_step):
        super().__init__()
        self.last_step = check_period("last_step", last_step)

    def on_train_batch_end(self, batch, logs=None):
        if global_step(self.model) >= self.last_step:
            self.model.stop_training = True

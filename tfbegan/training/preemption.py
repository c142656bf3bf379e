"""Save on SIGTERM / SIGINT: a preempted run loses no finished step.

Kubernetes, Slurm and spot VMs send SIGTERM before killing a job; a user presses
Ctrl-C (SIGINT). Without handling, SIGTERM kills the process at once (exit 143) and
SIGINT raises ``KeyboardInterrupt`` somewhere inside ``fit()``: either way every step
since the last periodic checkpoint is lost.

Two pieces:

* :class:`SignalCatcher`, a context manager that installs handlers which only
  *record* the signal (a handler must not save: it runs between two arbitrary
  Python bytecodes, possibly inside Keras' own bookkeeping) and restores the
  previous handlers on exit. A second signal while the first is still being
  handled restores the previous handlers and re-delivers itself, so an impatient
  user or a supervisor's repeated SIGTERM still ends the process.
* :class:`PreemptionCheckpoint`, a Keras callback that, at the end of the step
  during which the signal arrived, calls ``save_fn(step)``, logs one line
  (``received SIGTERM: saved a checkpoint at step N; rerun to resume``) and sets
  ``model.stop_training``. After ``fit()`` the caller reads
  :attr:`SignalCatcher.received` and exits with :func:`exit_code` (143 for
  SIGTERM, 130 for SIGINT, the shell's 128 + signal number).

Multi-worker training (``MultiWorkerMirroredStrategy``): each worker is signalled on
its own (a pod each), at slightly different times, but every worker must leave
``fit()`` after the same step, or the ones still training block forever in an
all-reduce. So the callback shares the decision: after every ``sync_every``-th step
each worker contributes its recorded signal (0 for none) to a cross-worker
``strategy.gather`` of one int32 per replica, and all of them stop when any value
is non-zero. That costs one tiny collective per check (the step itself already runs
several); with ``sync_every > 1`` a signal is acted on up to ``sync_every - 1`` steps
later. Only the chief calls ``save_fn`` (``chief=True`` there, False elsewhere),
matching the chief-only checkpoint writer; the others stop at the same step.
A signal that reaches only a non-chief worker still stops the whole job with the
chief's checkpoint. Signals are only catchable in the main thread: elsewhere the
catcher installs nothing and logs why.
"""

from __future__ import annotations

import logging
import signal
import threading

import keras
import tensorflow as tf

from tfbegan.steps import global_step

__all__ = ["PreemptionCheckpoint", "SignalCatcher", "exit_code", "signal_name"]

logger = logging.getLogger("tfbegan")

DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def signal_name(signum):
    """``"SIGTERM"`` for ``signal.SIGTERM`` (the number as text if unknown)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(signum):
    """The shell's exit status for a process ended by ``signum``: 128 + signum.

    143 for SIGTERM, 130 for SIGINT; 0 for None (no signal).
    """
    return 0 if not signum else 128 + int(signum)


class SignalCatcher:
    """Records SIGTERM / SIGINT instead of dying; restores the old handlers on exit.

    Args:
      signals: the signals to catch.

    Attributes:
      received: the first signal number received, or None.

    Example::

        with SignalCatcher() as catcher:
            model.fit(..., callbacks=[PreemptionCheckpoint(catcher, save)])
        if catcher.received:
            sys.exit(exit_code(catcher.received))
    """

    def __init__(self, signals=DEFAULT_SIGNALS):
        self.signals = tuple(signals)
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is None:
            self.received = signum
            logger.info("received %s: finishing the current step, then saving.",
                        signal_name(signum))
            return
        # Second signal: the user or the supervisor insists; behave as without us.
        # raise_signal delivers to this (the main) thread at once; os.kill may be
        # delivered to any thread, and the default handler would then run later.
        self.restore()
        signal.raise_signal(signum)

    def install(self):
        if threading.current_thread() is not threading.main_thread():
            logger.warning("not in the main thread: %s will not be caught (no save on "
                           "preemption).", ", ".join(map(signal_name, self.signals)))
            return self
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.restore()
        return False


class PreemptionCheckpoint(keras.callbacks.Callback):
    """Saves and stops ``fit()`` at the end of the step a signal arrived in.

    Args:
      catcher: a :class:`SignalCatcher` (installed around ``fit``).
      save_fn: ``save_fn(step)`` writes a checkpoint at ``step`` (e.g.
        ``tfbegan.callbacks.Checkpointer.save``); called on the chief only.
      strategy: the run's ``tf.distribute`` strategy; with a
        ``MultiWorkerMirroredStrategy`` the stop decision is shared (see the
        module docstring).
      chief: whether this process writes files.
      sync: share the decision across replicas; default: only under
        ``MultiWorkerMirroredStrategy``.
      sync_every: steps between two shared decisions.
      step_fn: ``step_fn(model)`` -> the global step; default: the first
        optimizer's iteration count.
      announce: log the one-line "received SIGTERM: saved a checkpoint at step N;
        rerun to resume." here; pass False when the caller prints it itself (e.g.
        as its exit message), so it appears once.

    Attributes:
      stopped_at: the step at which training was stopped, or None.
      signum: the signal acted on (this worker's or another's), or None.
    """

    def __init__(self, catcher, save_fn, strategy=None, chief=True, sync=None,
                 sync_every=1, step_fn=None, announce=True):
        super().__init__()
        if int(sync_every) < 1:
            raise ValueError(f"sync_every={sync_every!r} must be an integer >= 1.")
        self.catcher = catcher
        self.save_fn = save_fn
        self.strategy = strategy
        self.chief = chief
        if sync is None:
            sync = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        self.sync = bool(sync)
        self.sync_every = int(sync_every)
        self.step_fn = step_fn or global_step
        self.announce = announce
        self.stopped_at = None
        self.signum = None
        self._checks = 0

    def _shared_signal(self):
        """The signal any worker received (max over replicas), or 0."""
        local = int(self.catcher.received or 0)
        if not self.sync or self.strategy is None:
            return local
        value = self.strategy.run(lambda: tf.constant([local], tf.int32))
        return int(self.strategy.gather(value, axis=0).numpy().max())

    def on_train_batch_end(self, batch, logs=None):
        if self.stopped_at is not None:
            return
        self._checks += 1
        if self.sync and self._checks % self.sync_every:
            return
        signum = self._shared_signal()
        if signum:
            self._stop(signum)

    def on_train_end(self, logs=None):
        # A signal during the last step's callbacks (or after a non-synced step):
        # fit() is ending anyway, but the caller must still see a saved step.
        if self.stopped_at is None and self.catcher.received and not self.sync:
            self._stop(self.catcher.received)

    def _stop(self, signum):
        step = self.step_fn(self.model)
        self.signum = signum
        self.stopped_at = step
        self.model.stop_training = True
        if self.catcher.received is None:
            # Another worker was signalled: exit as if this one had been, too.
            self.catcher.received = signum
        if not self.chief:
            logger.info("%s on another worker: stopping at step %d (the chief saves).",
                        signal_name(signum), step)
            return
        self.save_fn(step)
        if self.announce:
            logger.warning("received %s: saved a checkpoint at step %d; rerun to resume.",
                           signal_name(signum), step)


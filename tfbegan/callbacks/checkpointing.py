"""Periodic atomic checkpoints with callback state (tfbegan.training.checkpoints)."""

from __future__ import annotations

from tfbegan.callbacks.base import PeriodicCallback
from tfbegan.checks import check_period
from tfbegan.steps import global_step
from tfbegan.training import checkpoints
from tfbegan.training.finite_state import NonFiniteStateError


class Checkpointer(PeriodicCallback):
    """Writes an atomic checkpoint once per ``every`` steps and at the end of training.

    Args:
      workdir: run directory; archives go to ``<workdir>/checkpoints``.
      every: steps between checkpoints (:class:`PeriodicCallback` cadence, so
        ``steps_per_execution > 1`` skips no period).
      keep: number kept.
      stateful: callbacks with ``get_state()`` whose state goes into the sidecar and
        is restored on resume (``set_state``), keyed by class name.
      nan_guard: a :class:`~tfbegan.callbacks.NaNGuard`; no checkpoint is written
        once it tripped.
      enabled: False on non-chief workers of a multi-worker run.

    A directory that already holds a checkpoint past the model's step belongs to
    another run (or a later point of this one): ``fit`` is refused at its start, so
    that the two runs' checkpoints never mix and ``load_latest`` never resumes the
    other one. Resume with :func:`tfbegan.training.checkpoints.load_latest` or choose
    an empty directory.

    A state whose weights or optimizer variables hold NaN or Inf is never written
    (:func:`tfbegan.training.checkpoints.save_checkpoint`): training stops there and
    ``failure`` (and the NaN guard's, when given) names the step, so the newest
    checkpoint on disk is always one training can continue from.
    """

    def __init__(self, workdir, every=500, keep=3, stateful=(), nan_guard=None,
                 enabled=True):
        super().__init__(every)
        self.workdir = workdir
        self.keep = check_period("keep", keep)
        self.stateful = list(stateful)
        self.nan_guard = nan_guard
        self.enabled = enabled
        self.last_saved = None
        self.failure = None

    def save(self, step):
        """Saves the state at ``step`` (once per step); returns the step or None."""
        if self.failure or (self.nan_guard is not None and self.nan_guard.failure):
            return None
        if self.last_saved == step:
            return None
        state = {"callbacks": {type(c).__name__: c.get_state() for c in self.stateful}}
        if self.enabled:
            try:
                checkpoints.save_checkpoint(self.model, self.workdir, step, state,
                                            self.keep)
            except NonFiniteStateError as e:
                self.failure = str(e)
                if self.nan_guard is not None:
                    self.nan_guard.failure = f"non-finite weights at step {step} ({e})"
                self.model.stop_training = True
                return None
        self.last_saved = step
        return step

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        step = global_step(self.model)
        found = checkpoints.list_checkpoints(self.workdir) if self.enabled else []
        if found and found[-1][0] > step:
            raise ValueError(
                f"{checkpoints.checkpoint_dir(self.workdir)} holds checkpoints up to step "
                f"{found[-1][0]}, past this model's step {step}: another run's. Resume "
                f"it with tfbegan.training.checkpoints.load_latest({self.workdir!r}) or "
                f"give Checkpointer an empty directory.")

    def on_step(self, step, logs):
        self.save(step)

    def on_train_end(self, logs=None):
        self.save(global_step(self.model))

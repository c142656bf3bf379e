"""Keras callbacks for BEGAN-family models, usable in any ``model.fit``.

Each callback reads the global training step from the model's first optimizer
(``model.optimizers[0].iterations``), so it behaves the same in a fresh run, a resumed
run and a user's own ``fit`` loop.

* :class:`SampleGrid` - PNG grid (and TensorBoard image) of G(z) at fixed z.
* :class:`ConvergenceLRDecay` - halve every optimizer's learning rate when M_global
  stalls (Berthelot et al. 2017, sec. 4.1), down to a floor.
* :class:`EquilibriumMonitor` - warn once when k sits at 0 or 1 for a long stretch.
* :class:`ProgressLogger` - one log line per N steps with losses, k, M_global,
  images/s and ETA.
* :class:`MetricsCSV` - metric rows for :func:`plot_convergence`.
* :class:`NaNGuard` - stop at the first non-finite loss, naming the step.
* :class:`Checkpointer` - atomic periodic checkpoints (tfbegan.checkpoints).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time

import keras
import numpy as np

from tfbegan import checkpoints
from tfbegan.imaging import make_grid, save_png

logger = logging.getLogger("tfbegan")


def global_step(model):
    """The number of optimizer steps the model has taken (resume-proof)."""
    opts = getattr(model, "optimizers", None) or [model.optimizer]
    return int(opts[0].iterations.numpy())


def _optimizers(model):
    opts = getattr(model, "optimizers", None)
    return list(opts) if opts else [model.optimizer]


def _get_lr(opt):
    return float(np.asarray(keras.ops.convert_to_numpy(opt.learning_rate)))


def _set_lr(opt, value):
    opt.learning_rate.assign(value)


class _StepCallback(keras.callbacks.Callback):
    """Base: calls :meth:`on_step` every ``every`` global steps."""

    def __init__(self, every):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every={every!r} must be an integer >= 1.")
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step % self.every == 0:
            self.on_step(step, logs or {})

    def on_step(self, step, logs):  # pragma: no cover - abstract
        raise NotImplementedError


class SampleGrid(_StepCallback):
    """Writes ``G(z)`` for a fixed z as a PNG grid every ``every`` steps.

    Args:
      directory: where ``samples_<step>.png`` go.
      every: steps between grids.
      num: number of samples (a square number gives a square grid).
      seed: seed of the fixed z (``model.sample_z(num, seed)``), so grids of one run
        and of a resumed run show the same z.
      log_dir: if set, also a TensorBoard image summary there.
      scale: nearest-neighbour up-scaling of the PNG (small images stay visible).
    """

    def __init__(self, directory, every=500, num=64, seed=1234, log_dir=None, scale=2):
        super().__init__(every)
        self.directory = directory
        self.num = num
        self.seed = seed
        self.log_dir = log_dir
        self.scale = scale
        self._writer = None
        self.last_path = None

    def write(self, step):
        """Writes the grid for ``step`` now; returns its path."""
        images = self.model.generate(self.model.sample_z(self.num, self.seed))
        images = keras.ops.convert_to_numpy(images)
        grid = make_grid(images)
        if self.scale > 1:
            grid = grid.repeat(self.scale, 0).repeat(self.scale, 1)
        self.last_path = save_png(os.path.join(self.directory, f"samples_{step:08d}.png"),
                                  grid)
        if self.log_dir:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            with self._writer.as_default():
                tf.summary.image("samples", grid[None], step=step)
            self._writer.flush()
        return self.last_path

    def on_step(self, step, logs):
        self.write(step)


class ConvergenceLRDecay(keras.callbacks.Callback):
    """Multiplies every optimizer's learning rate by ``factor`` on a stall.

    Berthelot et al. 2017, sec. 4.1: "decaying by a factor of 2 when the measure of convergence
    stalls". A stall is ``patience`` steps in which the monitored metric (M_global,
    as reported in the logs) did not fall below ``best * (1 - min_delta)``. Rates
    never go below ``min_lr``. ``decay_every`` > 0 additionally decays on a fixed
    schedule (Vertolli & Davies 2017 halves every 100,000 steps). Unlike
    ``keras.callbacks.ReduceLROnPlateau`` this touches *all* optimizers of a GAN.

    Args:
      patience: steps without improvement before a decay; 0 disables stall decay.
      factor: multiplier in (0, 1).
      min_lr: floor.
      monitor: log key; defaults to ``model.convergence_metric`` ("m_global").
      min_delta: relative improvement that counts.
      decay_every: fixed-schedule decay period in steps (0 = off).
    """

    def __init__(self, patience=2000, factor=0.5, min_lr=1e-6, monitor=None,
                 min_delta=1e-3, decay_every=0):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"factor={factor!r} is out of range; allowed: (0, 1).")
        if patience < 0 or decay_every < 0:
            raise ValueError("patience and decay_every must be >= 0.")
        self.patience = patience
        self.factor = factor
        self.min_lr = min_lr
        self.monitor = monitor
        self.min_delta = min_delta
        self.decay_every = decay_every
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
        for opt in _optimizers(self.model):
            old = _get_lr(opt)
            new = max(old * self.factor, self.min_lr)
            if new < old:
                _set_lr(opt, new)
                changed = True
        if changed:
            lrs = [_get_lr(o) for o in _optimizers(self.model)]
            self.decays.append([step, lrs[0]])
            logger.info("step %d: %s; learning rates -> %s", step, reason,
                        ", ".join(f"{lr:.3g}" for lr in lrs))

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        step = global_step(self.model)
        if self.decay_every and step % self.decay_every == 0:
            self._decay(step, f"scheduled decay every {self.decay_every} steps")
        if not self.patience:
            return
        key = self.monitor or getattr(self.model, "convergence_metric", "m_global")
        if key not in logs:
            return
        value = float(logs[key])
        if self.best_step is None or value < self.best * (1 - self.min_delta):
            self.best, self.best_step = value, step
        elif step - self.best_step >= self.patience:
            self._decay(step, f"{key} has not improved on {self.best:.4f} for "
                              f"{step - self.best_step} steps")
            # Give the lower rate a full patience window.
            self.best, self.best_step = value, step


class EquilibriumMonitor(keras.callbacks.Callback):
    """Warns once when k has sat at 0 (or at 1) for ``patience`` steps.

    k pinned at 0 means D ignores generated images (L(G(z)) > gamma L(x) all the
    time): typically G found images D cannot auto-encode, or collapsed. k pinned at 1
    means G's images are reconstructed far better than real ones. Both are the most
    reported BEGAN failure modes; the warning says what usually helps.
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
        k = float(logs["k"])
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


class ProgressLogger(keras.callbacks.Callback):
    """Logs ``step, L(x), L(G(z)), k, M_global, images/s, ETA`` every N steps.

    Args:
      every: steps between lines.
      total_steps: the run's last step (for ETA); None: no ETA.
      batch_size: global batch (for images/s).
      keys: log keys to print, in order; defaults to the model's metric names.
      print_fn: where lines go (default: the "tfbegan" logger at INFO).
    """

    def __init__(self, every, total_steps=None, batch_size=None, keys=None, print_fn=None):
        super().__init__()
        self.every = every
        self.total_steps = total_steps
        self.batch_size = batch_size
        self.keys = keys
        self.print_fn = print_fn or logger.info
        self._t = None
        self._step = None

    def on_train_begin(self, logs=None):
        self._t, self._step = time.perf_counter(), global_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step % self.every:
            return
        logs = logs or {}
        now = time.perf_counter()
        steps = step - self._step
        rate = steps / max(now - self._t, 1e-9)
        self._t, self._step = now, step
        keys = self.keys or [k for k in getattr(self.model, "metric_names", lambda: ())()]
        parts = [f"step {step}" + (f"/{self.total_steps}" if self.total_steps else "")]
        parts += [f"{k} {float(logs[k]):.4f}" for k in keys if k in logs]
        if self.batch_size:
            parts.append(f"{rate * self.batch_size:.1f} img/s")
        if self.total_steps and rate > 0:
            eta = (self.total_steps - step) / rate
            parts.append(f"ETA {int(eta // 60)}m{int(eta % 60):02d}s")
        self.print_fn(" | ".join(parts))


class MetricsCSV(keras.callbacks.Callback):
    """Appends ``step`` and every logged metric to a CSV every N steps.

    The file survives resume (rows after the resumed step are dropped first), and
    :func:`plot_convergence` draws it.
    """

    def __init__(self, path, every=100):
        super().__init__()
        self.path = path
        self.every = every
        self._fields = None

    def on_train_begin(self, logs=None):
        step = global_step(self.model)
        if os.path.exists(self.path):
            rows = read_metrics_csv(self.path)
            kept = [r for r in rows if r["step"] <= step]
            if len(kept) != len(rows):
                self._write_rows(kept)

    def _write_rows(self, rows):
        tmp = self.path + ".tmp"
        fields = list(rows[0].keys()) if rows else ["step"]
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step % self.every:
            return
        row = {"step": step}
        row.update({k: float(v) for k, v in (logs or {}).items()
                    if np.ndim(v) == 0})
        new = not os.path.exists(self.path)
        if not new and self._fields is None:
            with open(self.path) as f:
                self._fields = next(csv.reader(f), None)
        if new or self._fields is None:
            self._fields = list(row)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)


def read_metrics_csv(path):
    """Rows of a :class:`MetricsCSV` file as dicts of floats (``step`` as int)."""
    with open(path, newline="") as f:
        rows = []
        for r in csv.DictReader(f):
            row = {k: float(v) for k, v in r.items() if v not in (None, "")}
            row["step"] = int(row["step"])
            rows.append(row)
    return rows


def plot_convergence(csv_path, png_path, keys=("m_global", "k", "loss_real", "loss_fake")):
    """Plots M_global, k, L(x) and L(G(z)) against steps (Berthelot et al. 2017, Fig. 5 style)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics_csv(csv_path)
    keys = [k for k in keys if rows and k in rows[0]]
    if not rows or not keys:
        raise ValueError(f"{csv_path} has no rows with any of {keys}.")
    labels = {"m_global": "M_global", "k": "k", "loss_real": "L(x)",
              "loss_fake": "L(G(z))"}
    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.0 * len(keys)), sharex=True)
    for ax, key in zip(np.atleast_1d(axes), keys):
        ax.plot(steps, [r.get(key, np.nan) for r in rows], lw=1.2)
        ax.set_ylabel(labels.get(key, key))
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("step")
    fig.suptitle("BEGAN convergence")
    fig.tight_layout()
    tmp = png_path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, png_path)
    return png_path


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first NaN/Inf in a logged loss, naming the step.

    After ``fit`` returns, ``failure`` holds the message (None when all was finite);
    :class:`Checkpointer` checks it and never saves a non-finite state.
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


class Checkpointer(keras.callbacks.Callback):
    """Writes an atomic checkpoint every ``every`` steps (and at the end of training).

    Args:
      workdir: run directory; archives go to ``<workdir>/checkpoints``.
      every: steps between checkpoints.
      keep: number kept.
      stateful: callbacks with ``get_state()`` whose state goes into the sidecar and
        is restored on resume (``set_state``), keyed by class name.
      nan_guard: a :class:`NaNGuard`; no checkpoint is written once it tripped.
      enabled: False on non-chief workers of a multi-worker run.
    """

    def __init__(self, workdir, every=500, keep=3, stateful=(), nan_guard=None,
                 enabled=True):
        super().__init__()
        self.workdir = workdir
        self.every = every
        self.keep = keep
        self.stateful = list(stateful)
        self.nan_guard = nan_guard
        self.enabled = enabled
        self.last_saved = None

    def save(self, step):
        if self.nan_guard is not None and self.nan_guard.failure:
            return None
        if self.last_saved == step:
            return None
        state = {"callbacks": {type(c).__name__: c.get_state() for c in self.stateful}}
        if self.enabled:
            checkpoints.save_checkpoint(self.model, self.workdir, step, state, self.keep)
        self.last_saved = step
        return step

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step % self.every == 0:
            self.save(step)

    def on_train_end(self, logs=None):
        self.save(global_step(self.model))

"""Progress lines, metric CSV rows, TensorBoard scalars and the convergence plot.

All three callbacks act once per period of ``every`` global steps
(:class:`~tfbegan.callbacks.base.PeriodicCallback`) and report each metric's mean over
that period's steps, whatever ``steps_per_epoch`` a user's ``fit`` has.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
import time

import numpy as np

from tfbegan.callbacks.base import PeriodicCallback, get_lr, optimizers, scalar_logs
from tfbegan.steps import global_step

logger = logging.getLogger("tfbegan")

#: What :func:`plot_convergence` draws by default (Berthelot et al. 2017, Fig. 5 style).
CONVERGENCE_KEYS = ("m_global", "k", "loss_real", "loss_fake")
_LABELS = {"m_global": "M_global", "k": "k", "loss_real": "L(x)", "loss_fake": "L(G(z))"}


def _default_print(line):
    if logger.handlers:
        logger.info("%s", line)
    else:
        print(line, file=sys.stderr, flush=True)


class ProgressLogger(PeriodicCallback):
    """Logs ``step, L(x), L(G(z)), k, M_global, images/s, ETA`` once per N steps,
    and one line after the first step of each ``fit`` with the time it took (tracing
    and compiling), which the images/s of the later lines leave out.

    Args:
      every: steps between lines.
      total_steps: the run's last step (for ETA); None: no ETA.
      batch_size: global batch (for images/s).
      keys: log keys to print, in order; defaults to the model's metric names.
      print_fn: where lines go. Default: the "tfbegan" logger at INFO when it has a
        handler (the CLI sets one up), else stderr, so the lines show in a user's
        own script too (an unconfigured logger drops INFO).
    """

    def __init__(self, every, total_steps=None, batch_size=None, keys=None, print_fn=None):
        super().__init__(every)
        self.total_steps = total_steps
        self.batch_size = batch_size
        self.keys = keys
        self.print_fn = print_fn or _default_print
        self._t = None
        self._step = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._t, self._step = time.perf_counter(), global_step(self.model)
        self._warm = False

    def on_train_batch_end(self, batch, logs=None):
        if not getattr(self, "_warm", True):
            # The first step traces and compiles the train step (tens of seconds at
            # start-up): say so at once, and leave it out of the first rate.
            self._warm = True
            now, step = time.perf_counter(), global_step(self.model)
            total = f"/{self.total_steps}" if self.total_steps else ""
            self.print_fn(f"step {step}{total} | first step {now - self._t:.1f} s "
                          f"(tracing and compiling)")
            self._t, self._step = now, step
        super().on_train_batch_end(batch, logs)

    def on_step(self, step, logs):
        now = time.perf_counter()
        if self._t is None:
            self._t, self._step = now, step
        rate = (step - self._step) / max(now - self._t, 1e-9)
        self._t, self._step = now, step
        values = scalar_logs(logs)
        keys = self.keys or list(getattr(self.model, "metric_names", lambda: ())())
        parts = [f"step {step}" + (f"/{self.total_steps}" if self.total_steps else "")]
        parts += [f"{k} {values[k]:.4f}" for k in keys if k in values]
        if self.batch_size and rate > 0:
            parts.append(f"{rate * self.batch_size:.1f} img/s")
        if self.total_steps and rate > 0:
            eta = (self.total_steps - step) / rate
            parts.append(f"ETA {int(eta // 60)}m{int(eta % 60):02d}s")
        self.print_fn(" | ".join(parts))


class MetricsCSV(PeriodicCallback):
    """Appends ``step`` and every logged scalar to a CSV once per N steps.

    The file survives resume (rows after the resumed step are dropped first), and
    :func:`plot_convergence` draws it.

    Why not ``keras.callbacks.CSVLogger``: it writes once per epoch, keyed by epoch,
    and on resume appends after rows a crash may have left beyond the checkpoint;
    here rows are keyed by global step and trimmed to the resumed step.
    """

    def __init__(self, path, every=100):
        super().__init__(every)
        self.path = path
        self._fields = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        step = global_step(self.model)
        self._fields = None
        if os.path.exists(self.path):
            rows = read_metrics_csv(self.path)
            kept = [r for r in rows if r["step"] <= step]
            if not kept:
                # A fresh run (or one resumed before the first row): a new file, whose
                # header the first row sets.
                os.remove(self.path)
            elif len(kept) != len(rows):
                self._write_rows(kept, _columns(kept))

    def _write_rows(self, rows, fields):
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def on_step(self, step, logs):
        row = {"step": step, **scalar_logs(logs)}
        new = not os.path.exists(self.path)
        if not new and self._fields is None:
            with open(self.path) as f:
                self._fields = next(csv.reader(f), None)
        if new or not self._fields:
            self._fields = list(row)
        elif set(row) - set(self._fields):
            # A metric the header lacks (another model, or a term turned on): widen it.
            rows = read_metrics_csv(self.path)
            self._fields = _columns(rows + [row])
            self._write_rows(rows, self._fields)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)


class ScalarSummaries(PeriodicCallback):
    """TensorBoard scalars of every logged metric and every optimizer's learning rate
    (``learning_rate/<optimizer name>``), keyed by global step, once per N steps.

    Why not ``keras.callbacks.TensorBoard``: it logs ``model.optimizer``'s rate only
    (None for a model with one optimizer per network) and keys batch-level scalars by
    this ``fit`` call's batch counter, which restarts at 0 on resume.
    """

    def __init__(self, log_dir, every):
        super().__init__(every)
        self.log_dir = log_dir
        self._writer = None

    def on_step(self, step, logs):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for key, value in scalar_logs(logs).items():
                tf.summary.scalar(key, value, step=step)
            for i, opt in enumerate(optimizers(self.model)):
                tf.summary.scalar(f"learning_rate/{opt.name or i}", get_lr(opt),
                                  step=step)
        self._writer.flush()


def _columns(rows):
    """The union of the rows' keys, in first-seen order (``step`` first)."""
    return list(dict.fromkeys(k for row in rows for k in row))


def read_metrics_csv(path):
    """Rows of a :class:`MetricsCSV` file as dicts of floats (``step`` as int)."""
    with open(path, newline="") as f:
        rows = []
        for r in csv.DictReader(f):
            row = {k: float(v) for k, v in r.items() if v not in (None, "")}
            row["step"] = int(row["step"])
            rows.append(row)
    return rows


def plot_convergence(csv_path, png_path, keys=CONVERGENCE_KEYS):
    """Plots M_global, k, L(x) and L(G(z)) against steps (Berthelot et al. 2017, Fig. 5
    style) from a :class:`MetricsCSV` file; ``keys`` absent from the file are skipped.

    Raises ValueError naming the file and the keys asked for when none can be drawn.
    """
    # The object API with the Agg canvas: no pyplot, so no global backend switch.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = read_metrics_csv(csv_path)
    found = [k for k in keys if rows and k in rows[0]]
    if not found:
        have = sorted(k for k in (rows[0] if rows else {}) if k != "step")
        raise ValueError(f"{csv_path} has no rows with any of {list(keys)} (its columns: "
                         f"{have or 'none'}).")
    steps = [r["step"] for r in rows]
    fig = Figure(figsize=(7, 2.0 * len(found)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(found), 1, sharex=True)
    for ax, key in zip(np.atleast_1d(axes), found, strict=True):
        # Markers when there are few rows: one row is a single point, which a line
        # alone does not draw.
        ax.plot(steps, [r.get(key, np.nan) for r in rows], lw=1.2,
                marker="o" if len(rows) < 30 else None, markersize=3)
        ax.set_ylabel(_LABELS.get(key, key))
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[-1].set_xlabel("step")
    fig.suptitle("BEGAN convergence")
    fig.tight_layout()
    tmp = png_path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, png_path)
    return png_path

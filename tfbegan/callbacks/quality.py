"""Quality measured during training: FID / KID / IS / MS-SSIM of samples
(:class:`QualityEvaluator`) and the IQA distances of D's reconstructions
(:class:`ReconstructionDistances`, Vertolli & Davies 2017, Table 2).

Both act once per period of ``every_n_steps`` global steps
(:class:`~tfbegan.callbacks.base.PeriodicCallback`), so a resumed run continues the
numbering and ``steps_per_execution > 1`` skips no evaluation.
"""

from __future__ import annotations

import csv
import logging
import os

import numpy as np

from tfbegan.callbacks.base import PeriodicCallback
from tfbegan.checks import check_period
from tfbegan.evaluation import iqa, sample_quality
from tfbegan.steps import global_step

logger = logging.getLogger("tfbegan")


def _check_images(images, name, min_count, channels=None):
    """float32 ``[N >= min_count, H, W, C]`` or ValueError naming the bad shape."""
    x = np.asarray(images, np.float32)
    ok = x.ndim == 4 and len(x) >= min_count
    if channels is not None:
        ok = ok and x.shape[-1] in channels
    if not ok:
        chans = "C" if channels is None else " or ".join(map(str, channels))
        raise ValueError(f"{name} must have shape [N >= {min_count}, H, W, {chans}], "
                         f"got {x.shape}.")
    return x


class _ScalarWriter(PeriodicCallback):
    """A periodic callback writing TensorBoard scalars under ``<log_dir>/<subdir>``."""

    subdir = ""

    def __init__(self, every_n_steps, log_dir):
        super().__init__(every_n_steps, name="every_n_steps")
        self.every_n_steps = self.every
        self.log_dir = log_dir
        self._writer = None

    def _write_scalars(self, step, values):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, self.subdir))
        with self._writer.as_default():
            for name, value in values.items():
                if value is not None:
                    tf.summary.scalar(f"{self.subdir}/{name}", value, step=step)
        self._writer.flush()

    def on_step(self, step, logs):
        self.evaluate(step)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class QualityEvaluator(_ScalarWriter):
    """Evaluates sample quality once per ``every_n_steps`` training steps.

    Draws ``num_samples`` images with ``model.generate(num, seed=seed)`` (the same
    latents each time, so changes come from the generator), runs
    :func:`tfbegan.evaluation.sample_quality.evaluate_images` (FID, Heusel et al. 2017; KID,
    Binkowski et al. 2018; IS, Salimans et al. 2016; MS-SSIM, Odena et al. 2017)
    against the fixed ``real_images`` and writes ``quality/fid``, ``quality/kid``,
    ``quality/is``, ``quality/ms_ssim_generated`` and ``quality/ms_ssim_real``
    TensorBoard scalars under ``<log_dir>/quality``. When ``warn_collapse`` is set it
    logs a warning (logger "tfbegan") when the generated MS-SSIM climbs more than
    ``collapse_margin`` above the real images' (:func:`collapse_warning`).

    Args:
      real_images: ``[N, H, W, C]`` in [-1, 1], the reference set.
      feature_network: a :class:`tfbegan.evaluation.features.FeatureNetwork`.
      every_n_steps: period (> 0).
      num_samples: generated images per evaluation.
      log_dir: TensorBoard directory (None: only :attr:`history`).
      kid_subsets: KID subsets per evaluation (fewer than the CLI's 100: this runs
        inside training).

    Example:

    ```python
    real, _ = tfbegan.data.pipeline.load_mnist5k(32)
    cb = QualityEvaluator(real[:1000], DigitClassifier.load(), every_n_steps=1000,
                          log_dir=workdir)
    model.fit(dataset, steps_per_epoch=10000, callbacks=[cb])
    ```
    """

    subdir = "quality"
    KEYS = ("fid", "kid", "is", "ms_ssim_generated", "ms_ssim_real")

    def __init__(self, real_images, feature_network, every_n_steps=1000,
                 num_samples=1000, seed=0, log_dir=None, warn_collapse=True,
                 collapse_margin=0.2, kid_subsets=10, kid_subset_size=1000,
                 ms_ssim_pairs=500):
        super().__init__(every_n_steps, log_dir)
        if check_period("num_samples", num_samples) < 2:
            raise ValueError(f"num_samples={num_samples!r} must be an integer >= 2.")
        self.real_images = _check_images(real_images, "real_images", 2)
        self.feature_network = feature_network
        self.num_samples = num_samples
        self.seed = seed
        self.warn_collapse = warn_collapse
        # A margin on a difference of two MS-SSIMs; -1 warns at every evaluation.
        if not -1 <= collapse_margin <= 1:
            raise ValueError(f"collapse_margin={collapse_margin!r} is out of range; "
                             f"allowed: [-1, 1].")
        self.collapse_margin = collapse_margin
        # Checked now, not at the first evaluation thousands of steps into a run.
        self.kid_subsets = check_period("kid_subsets", kid_subsets)
        self.kid_subset_size = check_period("kid_subset_size", kid_subset_size)
        self.ms_ssim_pairs = check_period("ms_ssim_pairs", ms_ssim_pairs)
        #: One report dict (plus ``step``) per evaluation.
        self.history = []
        self._real_cache = {}

    def evaluate(self, step=None):
        """Evaluates now; logs and returns the report."""
        step = global_step(self.model) if step is None else int(step)
        generated = np.asarray(self.model.generate(self.num_samples, seed=self.seed))
        report = sample_quality.evaluate_images(
            generated, self.real_images, self.feature_network,
            kid_subsets=self.kid_subsets, kid_subset_size=self.kid_subset_size,
            ms_ssim_pairs=self.ms_ssim_pairs, seed=self.seed,
            real_cache=self._real_cache)
        report = {"step": step, **report}
        self.history.append(report)
        if self.warn_collapse:
            message = sample_quality.collapse_warning(report, self.collapse_margin)
            if message:
                logger.warning("step %d: %s.", step, message)
        if self.log_dir is not None:
            self._write_scalars(step, {k: report[k] for k in self.KEYS if k in report})
        return report


class ReconstructionDistances(_ScalarWriter):
    """Logs Table 2's distances between real images and their reconstructions.

    Once per ``every_n_steps`` global steps computes
    :func:`tfbegan.evaluation.iqa.reconstruction_distances` of ``images`` and
    ``model.reconstruct(images)``, appends ``step,l1,gmsm,chrom`` to
    ``<log_dir>/iqa_distances.csv`` and writes the TensorBoard scalars ``iqa/l1``,
    ``iqa/gmsm``, ``iqa/chrom`` under ``<log_dir>/iqa``. With ``log_dir=None`` the
    rows are only kept in :attr:`history`. When training ends, and ``write_figures``
    is set, Figures 3 and 4 for the first ``num_figure_images`` images go to
    ``<log_dir>/figures/``.

    Vertolli & Davies 2017 reports these as the "discriminator loss statistics" of
    Table 2; all values are distances (one minus the similarity).

    Args:
      images: a fixed batch of real images ``[N, H, W, C]`` in [-1, 1].
      every_n_steps: logging period in training steps (> 0).
      log_dir: directory of the CSV, the TensorBoard events and the figures.
      write_figures: write the two figures at the end of training (needs log_dir).
      num_figure_images: how many of ``images`` the figures show.

    Example:

    ```python
    cb = tfbegan.callbacks.ReconstructionDistances(real_batch, every_n_steps=500,
                                                   log_dir=workdir)
    model.fit(dataset, steps_per_epoch=10000, callbacks=[cb])
    print(tfbegan.evaluation.iqa.distance_report(workdir))
    ```
    """

    subdir = "iqa"

    def __init__(self, images, every_n_steps, log_dir=None, write_figures=True,
                 num_figure_images=4):
        super().__init__(every_n_steps, log_dir)
        self.images = _check_images(images, "images", 1, channels=(1, 3))
        self.num_figure_images = check_period("num_figure_images", num_figure_images)
        self.write_figures = write_figures
        #: Rows logged by this callback object: dicts with step, l1, gmsm, chrom.
        self.history = []

    @property
    def csv_path(self):
        return None if self.log_dir is None else os.path.join(self.log_dir, iqa.CSV_NAME)

    def evaluate(self, step=None):
        """Computes the distances now, logs them (CSV, TensorBoard, history) and
        returns the row."""
        step = global_step(self.model) if step is None else int(step)
        recon = self.model.reconstruct(self.images)
        row = {"step": step, **iqa.reconstruction_distances(self.images, recon)}
        self.history.append(row)
        if self.log_dir is not None:
            self._append_csv(row)
            self._write_scalars(step, {k: row[k] for k in iqa.REPORT_DISTANCES})
        return row

    def _append_csv(self, row):
        os.makedirs(self.log_dir, exist_ok=True)
        path = self.csv_path
        new = not os.path.exists(path) or os.path.getsize(path) == 0
        # Open-append-close per row: a killed run keeps every row written so far.
        with open(path, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(iqa.CSV_COLUMNS)
            writer.writerow([row["step"]] + [
                "" if row[k] is None else repr(row[k]) for k in iqa.REPORT_DISTANCES])

    def on_train_end(self, logs=None):
        if self.log_dir is not None and self.write_figures:
            iqa.write_figures(self.model, self.images[:self.num_figure_images],
                              os.path.join(self.log_dir, "figures"))
        super().on_train_end(logs)

"""Sample grids during training: ``G(z)`` at a fixed z, so grids of one run (and of a
resumed run) are comparable step to step."""

from __future__ import annotations

import os

import keras

from tfbegan import imaging
from tfbegan.callbacks.base import PeriodicCallback
from tfbegan.checks import check_period


class SampleGrid(PeriodicCallback):
    """Writes ``G(z)`` for a fixed z as a PNG grid once per ``every`` steps.

    Args:
      directory: where ``samples_<step>.png`` go.
      every: steps between grids (:class:`PeriodicCallback` cadence).
      num: number of samples (a square number gives a square grid).
      seed: seed of the fixed z (``model.sample_z(num, seed)``), so grids of one run
        and of a resumed run show the same z.
      log_dir: if set, also a TensorBoard image summary there.
      scale: nearest-neighbour up-scaling of the PNG (small images stay visible).
    """

    def __init__(self, directory, every=500, num=64, seed=1234, log_dir=None, scale=2):
        super().__init__(every)
        self.directory = directory
        self.num = check_period("num", num)
        self.seed = seed
        self.log_dir = log_dir
        self.scale = check_period("scale", scale)
        self._writer = None
        self.last_path = None

    def write(self, step):
        """Writes the grid for ``step`` now; returns its path."""
        images = self.model.generate(self.model.sample_z(self.num, self.seed))
        grid = imaging.upscale(imaging.make_grid(keras.ops.convert_to_numpy(images)),
                               self.scale)
        self.last_path = imaging.save_png(
            os.path.join(self.directory, f"samples_{step:08d}.png"), grid)
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

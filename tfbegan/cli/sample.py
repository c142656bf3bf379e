"""``tfbegan-sample``: a PNG grid (or interpolation strips) from an exported SavedModel.

    tfbegan-sample --export_dir=export/began/1 --num=64 --seed=0 --out=grid.png
    tfbegan-sample --export_dir=export/began --interpolate --strip_length=8 --out=strip.png

Calls the ``sample`` signature (``num`` images from ``seed``) or, with
``--interpolate``, the ``interpolate`` signature between consecutive pairs of
latents drawn from the model's prior with ``seed`` (so each strip starts and ends
at images that ``sample`` with the same seed also draws). ``--export_dir`` may be a
version directory or a model base path (its newest version is used). Needs only the
SavedModel, not the training run. Renamed flags (the old names work for one
release, with a warning): ``--steps`` is ``--strip_length``, ``--scale`` is
``--upscale``.
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags

from tfbegan.cli import common

FLAGS = flags.FLAGS


FLAG_SPECS = (
    ("string", "export_dir", None, "SavedModel directory (<export_base>/<version>) or "
     "a model base path, whose newest version is then used."),
    ("integer", "num", 64, "Number of images in the grid (sample signature)."),
    ("integer", "seed", 0, "Seed of the stateless latent draw."),
    ("string", "out", "grid.png", "Output PNG path."),
    ("boolean", "interpolate", False, "Draw interpolation strips (BEGAN sec. 4.6) "
     "instead of a grid."),
    ("integer", "strip_length", 8, "Images per interpolation strip (>= 2).",
     {"renamed_from": ("steps",)}),
    ("integer", "strips", 1, "Number of interpolation strips (rows)."),
    ("integer", "upscale", 1, "Integer upscaling of the PNG (nearest neighbour), 1..32.",
     {"renamed_from": ("scale",)}),
)


def define_flags(flag_values=FLAGS):
    """The sample flags (idempotent)."""
    common.define_flags_once(flag_values, "strip_length", FLAG_SPECS)


#: Largest ``--upscale``: the PNG takes ``upscale**2`` times the grid's memory.
MAX_SCALE = 32


def _validate():
    """The export directory, after every flag is checked (one-line ValueError).

    ``--upscale`` first (a large one only fails once the grid is drawn, allocating
    ``upscale**2`` times the grid); ``--num`` and ``--strip_length`` against the export's own
    caps (``max_num``, ``max_steps`` in its ``tfbegan.json``; the defaults for an
    export without them) before the SavedModel is loaded.
    """
    from tfbegan.serving import export as export_lib
    from tfbegan.serving import limits

    common.apply_renames(FLAG_SPECS, FLAGS)
    if not 1 <= FLAGS.upscale <= MAX_SCALE:
        raise ValueError(f"--upscale={FLAGS.upscale} must be an integer in "
                         f"[1, {MAX_SCALE}].")
    if not FLAGS.export_dir:
        raise ValueError("--export_dir is required.")
    if not os.path.isdir(FLAGS.export_dir):
        raise FileNotFoundError(f"--export_dir={FLAGS.export_dir!r} is not a directory.")
    common.check_out_path(FLAGS.out)
    export_dir = export_lib.resolve_export_dir(FLAGS.export_dir)
    meta = export_lib.read_metadata(export_dir)
    default = limits.DEFAULT_MAX_BATCH
    max_num, max_steps = meta.get("max_num", default), meta.get("max_steps", default)
    if FLAGS.interpolate:
        if not 2 <= FLAGS.strip_length <= max_steps:
            raise ValueError(f"--strip_length={FLAGS.strip_length} must be in "
                             f"[2, {max_steps}] (the export's max_batch).")
        if not 1 <= FLAGS.strips <= default // 2:
            raise ValueError(f"--strips={FLAGS.strips} must be in [1, {default // 2}].")
    elif not 1 <= FLAGS.num <= max_num:
        raise ValueError(f"--num={FLAGS.num} must be in [1, {max_num}] (the export's "
                         f"max_batch).")
    return export_dir


def draw(export_dir, num=64, seed=0, interpolate=False, strip_length=8, strips=1):
    """uint8 images ``[N, H, W, C]`` and the grid's row count from a SavedModel.

    Raises ValueError (one line naming the export) when the SavedModel does not load
    or its ``tfbegan.json`` disagrees with its signatures."""
    import tensorflow as tf

    from tfbegan.models import priors
    from tfbegan.serving import export as export_lib
    from tfbegan.serving import loading

    meta = export_lib.read_metadata(export_dir)
    loaded = loading.load_saved_model(export_dir)
    if not interpolate:
        out = loaded.signatures["sample"](num=tf.constant(num, tf.int32),
                                          seed=tf.constant(seed, tf.int64))
        return out["images"].numpy(), None
    fn = loaded.signatures["interpolate"]
    z_dim = loading.check_z_dim(meta, fn, export_dir)
    # The same (seed, 0) draw as the sample signature: strip i joins images 2i, 2i+1.
    z = priors.sample(meta.get("prior", "uniform"), 2 * strips, z_dim, seed, 0)
    rows = [fn(z_start=z[2 * i], z_end=z[2 * i + 1],
               steps=tf.constant(strip_length, tf.int32))["images"].numpy()
            for i in range(strips)]
    return np.concatenate(rows, axis=0), strips


def main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]} (use --flag=value).")
    common.quiet_saved_model_logging(FLAGS)
    try:
        export_dir = _validate()
        images, rows = draw(export_dir, FLAGS.num, FLAGS.seed, FLAGS.interpolate,
                            FLAGS.strip_length, FLAGS.strips)
        from tfbegan import imaging

        imaging.save_grid(FLAGS.out, images, rows=rows, scale=FLAGS.upscale)
    except (ValueError, FileNotFoundError, OSError, KeyError) as e:
        common.fail(e if str(e) else type(e).__name__)
    print(FLAGS.out)


def run():
    common.run_app(define_flags, main, __doc__)


if __name__ == "__main__":
    run()

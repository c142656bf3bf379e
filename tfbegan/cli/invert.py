"""``tfbegan-invert``: BEGAN Figure 4 (sec. 4.3) from an exported generator.

    tfbegan-invert --export_dir=export/began --dataset=mnist5k --out=figure4.png
    tfbegan-invert --export_dir=export/began/3 --dataset=folder:faces/ --num_pairs=4 \\
        --interpolated=8 --spherical --out=grid.png

For ``--num_pairs`` pairs of real images, finds each image's latent ``z_r`` by
minimising ``mean |x - G(z)|`` with Adam (z clipped to the prior's support), then
draws one row per pair: the two real images in the first and last columns, their
reconstructions ``G(z_r)`` next to them, and ``--interpolated`` images decoded along the
linear (or, with ``--spherical``, spherical) interpolation between the two ``z_r``.
Prints one JSON line (output path, per-image reconstruction errors). Needs only the
SavedModel (``--export_dir``) or a training checkpoint (``--checkpoint``: a file, or
a workdir's newest checkpoint that loads).

Renamed flags (the old names work for one release, with a warning): ``--images`` is
``--dataset``, ``--steps`` is ``--interpolated``, ``--scale`` is ``--upscale``.
"""

from __future__ import annotations

import json
import os

from absl import flags

from tfbegan.cli import common  # (before TensorFlow loads: quiets its start-up logs)
from tfbegan.data import real_images

FLAGS = flags.FLAGS


FLAG_SPECS = (
    ("string", "dataset", "mnist5k", "Real images: a folder (first 2 * num_pairs "
     "files, sorted; also folder:PATH, or tfds:NAME[:SPLIT]), image files separated by "
     "commas, a .npy array, or mnist5k (a seeded choice of the embedded digits).",
     {"renamed_from": ("images",)}),
    ("integer", "num_pairs", 4, "Pairs of real images (rows of the figure)."),
    ("integer", "interpolated", 8, "Interpolated images between the two "
     "reconstructions of a row, 0..64 (BEGAN Figure 4c shows 6).",
     {"renamed_from": ("steps",)}),
    ("boolean", "spherical", False, "Spherical (slerp) instead of linear interpolation "
     "in z."),
    ("integer", "inversion_steps", 500, "Adam steps of the z search (BEGAN sec. 4.3 "
     "does not state its count)."),
    ("float", "inversion_lr", 0.05, "Initial Adam learning rate of the z search "
     "(cosine-decayed to 0)."),
    ("integer", "seed", 0, "Seed of the initial z and of the mnist5k choice."),
    ("integer", "upscale", 2, "Integer upscaling of the PNG (nearest neighbour).",
     {"renamed_from": ("scale",)}),
    ("string", "out", "figure4.png", "Output PNG path."),
)


def define_flags(flag_values=FLAGS):
    """The invert flags, in ``flag_values`` (idempotent)."""
    common.define_flags_once(flag_values, "num_pairs", FLAG_SPECS, generator_source=True)


def _validate(f):
    common.apply_renames(FLAG_SPECS, f)
    common.check_generator_source(f)
    if not 1 <= f.num_pairs <= 64:
        raise ValueError(f"--num_pairs={f.num_pairs} must be in [1, 64].")
    if not 0 <= f.interpolated <= 64:
        raise ValueError(f"--interpolated={f.interpolated} must be in [0, 64].")
    if f.inversion_steps < 1:
        raise ValueError(f"--inversion_steps={f.inversion_steps} must be >= 1.")
    if not f.inversion_lr > 0:
        raise ValueError(f"--inversion_lr={f.inversion_lr} must be > 0.")
    if f.upscale < 1:
        raise ValueError(f"--upscale={f.upscale} must be >= 1.")
    common.check_out_path(f.out)


def draw(export_dir=None, checkpoint=None, dataset="mnist5k", num_pairs=4,
         interpolated=8, spherical=False, inversion_steps=500, inversion_lr=0.05, seed=0):
    """``(rows, errors, info)``: Figure 4 rows ``[pairs, interpolated + 4, H, W, C]``."""
    import numpy as np

    from tfbegan.serving import latent, loading

    generator, info = loading.load_generator(export_dir, checkpoint)
    real = real_images.load_real_images(dataset, 2 * num_pairs, info["image_size"],
                                        info["channels"], seed)
    if len(real) < 2:
        raise ValueError(f"--dataset={dataset!r} gave {len(real)} image(s); at least 2 "
                         f"are needed for one pair.")
    if not np.all(np.isfinite(real)):
        bad = sorted({int(i) for i in np.nonzero(~np.isfinite(real))[0]})
        raise ValueError(f"--dataset={dataset!r} holds NaN or Inf values (image "
                         f"{bad[0]}{' and others' if len(bad) > 1 else ''}); the "
                         f"inversion needs finite pixels.")
    pairs = len(real) // 2
    rows, errors = latent.figure4_rows(
        generator, real[0:2 * pairs:2], real[1:2 * pairs:2], steps=interpolated,
        spherical=spherical, prior=info["prior"], inversion_steps=inversion_steps,
        learning_rate=inversion_lr, seed=seed)
    return rows, errors, info


def _draw_and_save(f):
    from tfbegan import imaging

    _validate(f)
    rows, errors, info = draw(f.export_dir, f.checkpoint, f.dataset, f.num_pairs,
                              f.interpolated, f.spherical, f.inversion_steps,
                              f.inversion_lr, f.seed)
    imaging.save_grid(f.out, rows.reshape((-1,) + rows.shape[2:]), rows=rows.shape[0],
                      scale=f.upscale)
    return rows, errors, info


def execute(f):
    """Runs the command for parsed flag values ``f``; prints one JSON line.

    User errors exit with status 1 and one ``error: ...`` line on stderr.
    """
    rows, errors, info = common.guarded(_draw_and_save, f)
    result = {
        "out": os.path.abspath(f.out), "source": info["source"], "step": info["step"],
        "pairs": int(rows.shape[0]), "columns": int(rows.shape[1]),
        "spherical": bool(f.spherical),
        "reconstruction_error": [[round(float(e), 6) for e in pair] for pair in errors],
        "mean_reconstruction_error": float(errors.mean())}
    print(json.dumps(result), flush=True)
    return result


main = common.command_main(execute)


def run():
    """Console-script entry point."""
    common.run_command(define_flags, execute, __doc__)


if __name__ == "__main__":
    run()

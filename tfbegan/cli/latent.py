"""``tfbegan-latent``: latent attribute arithmetic strips (Khan et al. 2018, sec. 5.5).

    tfbegan-latent --export_dir=export/vae_began --attribute=digit_3 \\
        --attribute_weights=-2,-1,0,1,2 --num=8 --out=strip.png
    tfbegan-latent --export_dir=export/celeba --attribute=Black_Hair \\
        --latent_data_dir=~/tensorflow_datasets --out=black_hair.png

Encodes labelled images with the SavedModel's ``encode`` signature, takes the
attribute vector ``mean E(with) - mean E(without)`` (:mod:`tfbegan.serving.attributes`),
adds ``s * vector`` to ``--num`` base latents for each ``s`` in
``--attribute_weights`` and
decodes them with ``serving_default``. The PNG has one row per base latent and one
column per scale. Base latents are new draws from the model's prior (``--base=random``,
as in the paper's Figure 8) or encodings of real images without the attribute
(``--base=data``). Attributes: ``digit_0`` .. ``digit_9`` (the embedded MNIST
digits, offline) or CelebA's 40 (tfds names, prepared data). ``--scale`` is the old
name of ``--attribute_weights`` (it works for one release, with a warning).
"""

from __future__ import annotations

import logging
import os

from absl import flags

from tfbegan.cli import common

FLAGS = flags.FLAGS


FLAG_SPECS = (
    ("string", "export_dir", None, "SavedModel directory (<export_base>/<version>) or a "
     "model base path (newest version); needs an 'encode' signature."),
    ("string", "attribute", None, "digit_0..digit_9 (embedded digits) or a CelebA "
     "attribute as tfds spells it (e.g. Black_Hair, Smiling)."),
    ("list", "attribute_weights", ["-2", "-1", "0", "1", "2"], "Weights s of the "
     "attribute vector, one column each (Khan et al. 2018 sec. 5.5).",
     {"renamed_from": ("scale",)}),
    ("integer", "num", 8, "Base latents (rows)."),
    ("enum", "base", "random", "random: base latents drawn from the prior (Khan et al. "
     "2018 Fig. 8); data: encodings of real images without the attribute.",
     {"enum_values": ["random", "data"]}),
    ("integer", "latent_seed", 0, "Seed of the base latents' stateless draw."),
    ("integer", "max_images", 2000, "Labelled images encoded to estimate the attribute "
     "vector."),
    ("string", "latent_data_dir", None, "tfds data_dir for CelebA."),
    ("boolean", "latent_download", False, "Let tfds download CelebA."),
    ("integer", "upscale", 1, "Integer upscaling of the PNG (nearest neighbour)."),
    ("string", "out", "strip.png", "Output PNG path."),
)


def define_flags(flag_values=None):
    """The latent flags on ``flag_values`` (absl's FLAGS by default; idempotent)."""
    common.define_flags_once(FLAGS if flag_values is None else flag_values,
                             "attribute", FLAG_SPECS)


def parse_scales(values):
    """``["-2", "1.5"]`` -> ``[-2.0, 1.5]``; ValueError naming the bad entry."""
    scales = []
    for v in values:
        try:
            scales.append(float(v))
        except ValueError:
            raise ValueError(f"--attribute_weights entry {v!r} is not a number "
                             f"(expected e.g. --attribute_weights=-2,-1,0,1,2).") from None
    if not scales:
        raise ValueError("--attribute_weights needs at least one number.")
    return scales


def draw_strip(export_dir, attribute, scales, num=8, base="random", seed=0,
               max_images=2000, data_dir=None, download=False):
    """uint8 images ``[num * len(scales), H, W, C]`` (row-major) and the vector.

    Library entry point of the CLI: usable from a script with a SavedModel path.
    Every signature call stays within the export's batch cap (``max_batch`` in its
    ``tfbegan.json``): images are encoded and latents decoded in batches of at most
    ``min(64, max_batch)``.
    """
    import numpy as np
    import tensorflow as tf

    from tfbegan.models import priors
    from tfbegan.serving import attributes, loading
    from tfbegan.serving import export as export_lib

    attributes.check_attribute(attribute)
    loaded = loading.load_saved_model(export_dir)
    encode_fn, image_shape = attributes.as_encode_fn(loaded)
    meta = export_lib.read_metadata(export_dir)
    batch = min(64, int(meta.get("max_batch", 64)))
    if image_shape is None:
        image_shape = (meta["image_size"], meta["image_size"], meta["channels"])
    _warn_if_other_data(attribute, int(image_shape[2]))
    images, mask = attributes.load_attribute_data(
        attribute, int(image_shape[0]), int(image_shape[2]), max_images=max_images,
        data_dir=data_dir, download=download)
    vector = attributes.attribute_vector_from_labels(encode_fn, images, mask, batch)
    if base == "random":
        prior = meta.get("prior", "normal")
        z = priors.sample(prior, num, int(vector.shape[0]), seed, 0).numpy()
    else:
        without = images[~mask]
        if len(without) < num:
            raise ValueError(f"only {len(without)} images without {attribute!r}; "
                             f"lower --num.")
        pick = np.random.default_rng(seed).choice(len(without), num, replace=False)
        z = attributes.encode(encode_fn, without[np.sort(pick)], batch)
    grid_z = attributes.apply_attribute(z, vector, scales).reshape(-1, z.shape[1])
    decode = loaded.signatures["serving_default"]
    out = np.concatenate([decode(z=tf.constant(grid_z[i:i + batch], tf.float32))
                          ["images"].numpy() for i in range(0, len(grid_z), batch)])
    return out, vector


def _warn_if_other_data(attribute, channels):
    """Warns when the labelled images are not the kind the model was trained on: the
    digit attributes come from the embedded grey digits, CelebA's from colour faces."""
    native = 1 if attribute.startswith("digit_") else 3
    if channels != native:
        source = "the embedded grey digits" if native == 1 else "CelebA's colour faces"
        logging.getLogger("tfbegan").warning(
            "--attribute=%s is estimated from %s, but this model draws %s images: "
            "the direction found may mean nothing for it.", attribute, source,
            "colour" if channels == 3 else "grey")


def main(argv, flag_values=None):
    """The CLI body; ``flag_values`` (default: absl's FLAGS) holds parsed flags."""
    FLAGS = flag_values if flag_values is not None else globals()["FLAGS"]
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]} (use --flag=value).")
    try:
        from tfbegan.serving import export as export_lib
        from tfbegan.serving import limits

        common.apply_renames(FLAG_SPECS, FLAGS)
        if not FLAGS.export_dir:
            raise ValueError("--export_dir is required.")
        if not FLAGS.attribute:
            raise ValueError("--attribute is required (e.g. digit_3 or Black_Hair).")
        common.check_out_path(FLAGS.out)
        if not os.path.isdir(FLAGS.export_dir):
            raise FileNotFoundError(f"--export_dir={FLAGS.export_dir!r} is not a "
                                    f"directory.")
        if not 1 <= FLAGS.num <= limits.DEFAULT_MAX_BATCH:
            raise ValueError(f"--num={FLAGS.num} must be in [1, "
                             f"{limits.DEFAULT_MAX_BATCH}].")
        if FLAGS.max_images < 2:
            raise ValueError(f"--max_images={FLAGS.max_images} must be >= 2.")
        if FLAGS.upscale < 1:
            raise ValueError(f"--upscale={FLAGS.upscale} must be >= 1.")
        scales = parse_scales(FLAGS.attribute_weights)
        export_dir = export_lib.resolve_export_dir(FLAGS.export_dir)
        images, vector = draw_strip(
            export_dir, FLAGS.attribute, scales, FLAGS.num, FLAGS.base,
            FLAGS.latent_seed, FLAGS.max_images, FLAGS.latent_data_dir,
            FLAGS.latent_download)
        from tfbegan import imaging

        imaging.save_grid(FLAGS.out, images, rows=FLAGS.num, scale=FLAGS.upscale)
    except (ValueError, FileNotFoundError, OSError, KeyError) as e:
        common.fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    print(f"{FLAGS.out}  (|v_{FLAGS.attribute}| = {float((vector ** 2).sum()) ** 0.5:.4f})")


def run():
    common.run_app(define_flags, main, __doc__)


if __name__ == "__main__":
    run()

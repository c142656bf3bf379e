"""``tfbegan-train``: train a BEGAN-family model (a thin absl main over train_lib).

With no flags it trains the quickstart recipe (flags/quickstart.flags: BEGAN with seed
003's denoising loss, D at half G's learning rate) on the 5,000 embedded MNIST digits
at 32x32 in about 4 CPU-minutes and leaves checkpoints, logs, sample grids, a
convergence plot and an exported generator in ./tfbegan_run.

Examples::

    tfbegan-train                                      # the quickstart
    tfbegan-train --flagfile=flags/began_celeba_64.flags --workdir=runs/celeba64
    tfbegan-train --model=vae_began --steps=2000        # another model family
    python -m tfbegan.cli.train --helpfull             # every flag, with paper values

Re-running the same command with the same --workdir resumes from its newest checkpoint.
"""

from __future__ import annotations

import importlib
import os

from tfbegan.cli import common  # noqa: F401  (quiets TensorFlow first)

from absl import app, flags

from tfbegan.cli.variants import VARIANTS

FLAGS = flags.FLAGS

# Quickstart values; the paper's are named in each help text.
DEFAULTS = dict(model="denoising_began", image_size=32, filters=32, repeats=2, z_dim=32,
                h_dim=32, learning_rate=2e-4, d_lr_ratio=0.5, beta1=0.5, batch_size=16,
                steps=1000, lr_decay_every=500)


def define_flags():
    """Defines the core training flags and every model family's flags."""
    flags.DEFINE_string("model", DEFAULTS["model"], "Model family: "
                        f"{', '.join(sorted(VARIANTS))} (the quickstart: denoising_began, "
                        "BEGAN with Li et al. 2018's denoising loss on D).")
    # Data.
    flags.DEFINE_string("dataset", "mnist5k", "mnist5k (5,000 embedded MNIST digits, "
                        "offline), tfds:NAME[:SPLIT] (e.g. tfds:celeb_a, tfds:cifar10) or "
                        "folder:PATH (jpg/png/bmp/gif, recursive).")
    flags.DEFINE_string("data_dir", None, "tfds data directory (default ~/tensorflow_datasets).")
    flags.DEFINE_bool("download", False, "Let tfds download and prepare missing data.")
    flags.DEFINE_enum("crop", "center", ["center", "celeba"], "Square crop before resizing: "
                      "center, or the CelebA face box of the public CelebA BEGANs.")
    # Architecture (Berthelot et al. 2017 sec. 3.5).
    flags.DEFINE_integer("image_size", DEFAULTS["image_size"], "Image size, a power of two "
                         "in [8, 256] (Berthelot et al. 2017: 32-256; 8x8 bottleneck).")
    flags.DEFINE_integer("filters", DEFAULTS["filters"], "n, filters of the first scale, "
                         "growing n, 2n, 3n... (Berthelot et al. 2017 sec. 4: 64 or 128).")
    flags.DEFINE_integer("repeats", DEFAULTS["repeats"], "3x3 conv+ELU layers per scale "
                         "(Berthelot et al. 2017 sec. 3.5: typically 2).")
    flags.DEFINE_integer("z_dim", DEFAULTS["z_dim"], "N_z, generator input size (Berthelot et al. 2017 "
                         "sec. 4: 64 or 128).")
    flags.DEFINE_integer("h_dim", DEFAULTS["h_dim"], "N_h, auto-encoder hidden size (paper "
                         "001 sec. 4: 64 or 128).")
    # Optimisation (Berthelot et al. 2017 sec. 4.1).
    flags.DEFINE_float("learning_rate", DEFAULTS["learning_rate"], "Adam learning rate of "
                       "every network (Berthelot et al. 2017 sec. 4.1: 5e-5 .. 1e-4); D's is scaled "
                       "by --d_lr_ratio.")
    flags.DEFINE_float("d_lr_ratio", DEFAULTS["d_lr_ratio"], "The discriminator learns at "
                       "d_lr_ratio * learning_rate, in (0, 100] (Berthelot et al. 2017: 1, one rate; "
                       "the quickstart: 0.5, a slower auto-encoder keeps k up). Models "
                       "without a discriminator (age) take only 1.")
    flags.DEFINE_float("beta1", DEFAULTS["beta1"], "Adam beta1 (Berthelot et al. 2017: Keras default "
                       "0.9; Vertolli & Davies 2017, Li et al. 2018: 0.5).")
    flags.DEFINE_integer("batch_size", DEFAULTS["batch_size"], "Global batch size, split "
                         "across replicas (Berthelot et al. 2017 sec. 3.4.1: 16).")
    flags.DEFINE_integer("steps", DEFAULTS["steps"], "Total training steps of the run.")
    flags.DEFINE_float("lr_decay_factor", 0.5, "Learning-rate factor of each decay (M_global "
                       "stall or lr_decay_every) (Berthelot et al. 2017 sec. 4.1: 0.5).")
    flags.DEFINE_integer("lr_patience", 0, "Steps without M_global improvement before a "
                         "decay; 0 disables (Berthelot et al. 2017 sec. 4.1 decays on stalls).")
    flags.DEFINE_integer("lr_decay_every", DEFAULTS["lr_decay_every"], "Also multiply the "
                         "learning rates by lr_decay_factor every N steps; 0 = off (seed "
                         "000: every 100,000 steps; Berthelot et al. 2017 sec. 4.1 decays only on "
                         "stalls).")
    flags.DEFINE_float("min_learning_rate", 1e-6, "Floor of the learning-rate decay.")
    # Run.
    flags.DEFINE_string("workdir", "tfbegan_run", "Run directory; rerun with the same one "
                        "to resume.")
    flags.DEFINE_integer("log_every", 100, "Steps between progress lines and metric rows.")
    flags.DEFINE_integer("checkpoint_every", 500, "Steps between checkpoints.")
    flags.DEFINE_integer("sample_every", 500, "Steps between PNG sample grids.")
    flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept in the workdir.")
    flags.DEFINE_integer("seed", 0, "Seed of weights, data order and z.")
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                      "default: one device; mirrored: tf.distribute.MirroredStrategy over "
                      "local GPUs; multi_worker: MultiWorkerMirroredStrategy from TF_CONFIG.")
    flags.DEFINE_integer("num_gpus", 0, "GPUs for --strategy=mirrored (0 = all visible).")
    flags.DEFINE_string("export_base", os.path.join("tfbegan_run", "export", "generator"),
                        "Export the generator to <export_base>/<version>/ when training "
                        "ends (empty: no export).")
    flags.DEFINE_enum("mixed_precision", None, ["bfloat16", "float16"],
                      "Mixed-precision compute dtype (losses, k and outputs stay float32; "
                      "float16 adds dynamic loss scaling). bfloat16: ~1.7x faster on CPUs "
                      "with AVX512-BF16/AMX; float16 or bfloat16 on GPUs with tensor "
                      "cores (docs/benchmarks.md).")
    flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step. Off by default: "
                      "~20% slower on the CPU benchmark; usually faster on a GPU, where "
                      "Keras' own 'auto' turns it on (docs/benchmarks.md). Under XLA the "
                      "step-keyed z comes from another random stream.")
    flags.DEFINE_integer("steps_per_execution", 1, "Train steps per tf.function call "
                         "(log/checkpoint/sample periods must be multiples). 1: no "
                         "measurable gain on CPU; try 10-100 on a GPU with small steps.")
    for name in sorted(VARIANTS):
        importlib.import_module(VARIANTS[name]).define_flags()


def config_from_flags(f=FLAGS):
    """Turns the parsed flags into one frozen TrainConfig (validated)."""
    from tfbegan import data as data_lib
    from tfbegan.config import TrainConfig

    if f.model not in VARIANTS:
        raise ValueError(f"--model={f.model!r} is not supported; allowed: "
                         f"{', '.join(sorted(VARIANTS))}.")
    data = data_lib.DataConfig(dataset=f.dataset, data_dir=f.data_dir, download=f.download,
                               crop=f.crop, image_size=f.image_size)
    export_base = f.export_base or None
    if export_base and f["export_base"].using_default_value and f.workdir != "tfbegan_run":
        # The default export lives inside the run's workdir.
        export_base = os.path.join(f.workdir, "export", "generator")
    kwargs = dict(image_size=f.image_size, channels=data_lib.num_channels(data),
                  filters=f.filters, repeats=f.repeats, z_dim=f.z_dim, h_dim=f.h_dim,
                  seed=f.seed)
    kwargs.update(importlib.import_module(VARIANTS[f.model]).model_kwargs(f))
    return TrainConfig(
        model=f.model, model_kwargs=kwargs, data=data, batch_size=f.batch_size,
        steps=f.steps, learning_rate=f.learning_rate, d_lr_ratio=f.d_lr_ratio,
        beta1=f.beta1,
        lr_decay_factor=f.lr_decay_factor, lr_patience=f.lr_patience,
        lr_decay_every=f.lr_decay_every, min_learning_rate=f.min_learning_rate,
        log_every=f.log_every, checkpoint_every=f.checkpoint_every,
        sample_every=f.sample_every, keep_checkpoints=f.keep_checkpoints, seed=f.seed,
        strategy=f.strategy, num_gpus=f.num_gpus, export_base=export_base,
        mixed_precision=f.mixed_precision, jit_compile=f.jit_compile,
        steps_per_execution=f.steps_per_execution)


def main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}; flags look like --name=value.")
    log = common.setup_logging()
    try:
        config = config_from_flags()
        from tfbegan import train_lib

        summary = train_lib.train(config, FLAGS.workdir)
    except common.USER_ERRORS as e:
        common.fail(e)
    except KeyboardInterrupt:
        common.fail("interrupted; rerun the same command to resume from the last "
                    "checkpoint.", code=130)
    k = "" if summary.get("k") is None else f", k {summary['k']:.4f}"
    log.info("done: step %d%s, samples %s", summary["step"], k, summary.get("samples"))
    if summary.get("reconstructions"):
        log.info("reconstructions: %s", summary["reconstructions"])
    if summary.get("convergence_plot"):
        log.info("convergence plot: %s", summary["convergence_plot"])
    if summary.get("export_dir"):
        log.info("exported generator: %s", summary["export_dir"])


def run():
    """Console-script entry point."""
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()

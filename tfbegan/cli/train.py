"""``tfbegan-train``: train a BEGAN-family model (a thin absl main over train_lib).

With no flags it trains the quickstart recipe (``--preset=quickstart``: BEGAN with Li
et al. 2018's denoising loss on the DCGAN-style network pair, batch 64, G at 1e-3 and D
at 2e-4) on the 5,000 embedded MNIST digits at 32x32 in about 3 minutes on 2 idle CPU
cores and leaves checkpoints, logs, sample grids, a
convergence plot and an exported generator in ./tfbegan_run. ``--model=X`` trains
family X with its paper's values instead (``tfbegan.cli.defaults``).

Examples::

    tfbegan-train                                      # the quickstart
    tfbegan-train --preset=began_celeba_64 --workdir=runs/celeba64
    tfbegan-train --model=vae_began --steps=2000        # another model family
    python -m tfbegan.cli.train --helpfull             # every flag, with paper values

Re-running the same command with the same --workdir resumes from its newest checkpoint.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys

from absl import app, flags

# common first sets TF_CPP_MIN_LOG_LEVEL before anything imports TensorFlow.
from tfbegan.cli import common, defaults, flag_table, presets, recipes
from tfbegan.cli import help as help_lib
from tfbegan.cli.variants import FAMILIES, VARIANTS
from tfbegan.data.config import DataConfig

FLAGS = flags.FLAGS


def family_flags():
    """Flag names each family's module defines (its table's names and their earlier
    names), read from the tables: no state filled as a side effect."""
    out = {}
    for name, module in VARIANTS.items():
        table = importlib.import_module(module).TABLE
        out[name] = {f.name for f in table} | {old for f in table for old in f.renamed_from}
    return out


def _define_core_flags():
    """Data, architecture, optimisation and run flags shared by every model.

    Defaults are Berthelot et al. 2017's values; the no-flag run's preset
    (``tfbegan.cli.defaults.QUICKSTART``) is named in each help text.
    """
    flags.DEFINE_string("preset", None, "A packaged flagfile by name, in place of "
                        "--flagfile (flags after it override its values): "
                        f"{', '.join(presets.names())}.")
    flags.DEFINE_string("model", defaults.QUICKSTART["model"], "Model family: "
                        f"{', '.join(sorted(VARIANTS))}. Without --model, the quickstart "
                        "preset (--preset=quickstart) fills every flag not given, or, "
                        "with a --dataset other than mnist5k, a recipe chosen from the "
                        "images' size and number (docs/your_images.md); with --model, "
                        "the family's paper values do.")
    _define_data_flags()
    # Architecture (Berthelot et al. 2017 sec. 3.5).
    flags.DEFINE_integer("image_size", 32, "Image size, a power of two in [8, 256] "
                         "(Berthelot et al. 2017: 32-256; 8x8 bottleneck). Not given with a "
                         "folder dataset: the largest one not above the images' median "
                         "shorter side (longer with --resize=pad); one log line says what "
                         "was chosen.")
    flags.DEFINE_integer("filters", 64, "n, filters of the first scale, growing n, 2n, "
                         "3n... (Berthelot et al. 2017 sec. 4: 64 or 128; the no-flag run: 32).")
    flags.DEFINE_integer("repeats", 2, "3x3 conv+ELU layers per scale (Berthelot et al. "
                         "2017 sec. 3.5: typically 2).")
    flags.DEFINE_integer("z_dim", 64, "N_z, generator input size (Berthelot et al. 2017 "
                         "sec. 4: 64 or 128; the no-flag run: 32).")
    flags.DEFINE_integer("h_dim", 64, "N_h, auto-encoder hidden size (Berthelot et al. "
                         "2017 sec. 4: 64 or 128; the no-flag run: 32).")
    # Optimisation (Berthelot et al. 2017 sec. 4.1).
    flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate of every network "
                       "(Berthelot et al. 2017 sec. 4.1: 5e-5 .. 1e-4; vae_began: 5e-5; "
                       "bigan, age: 2e-4; the no-flag run: 1e-3); D's is scaled by "
                       "--d_lr_ratio.")
    flags.DEFINE_float("d_lr_ratio", 1.0, "The discriminator learns at d_lr_ratio * "
                       "learning_rate, in (0, 100] (Berthelot et al. 2017: 1, one rate; "
                       "the no-flag run: 0.2, as the public MNIST BEGAN recipe). Models "
                       "without a discriminator (age) take only 1.")
    flags.DEFINE_float("beta1", 0.5, "Adam beta1 (Berthelot et al. 2017: Keras default "
                       "0.9; Vertolli & Davies 2017, Li et al. 2018: 0.5).")
    flags.DEFINE_integer("batch_size", 16, "Global batch size, split across replicas "
                         "(Berthelot et al. 2017 sec. 3.4.1: 16; the no-flag run: 64).")
    flags.DEFINE_integer("steps", 1000, "Total training steps of the run.")
    flags.DEFINE_float("lr_decay_factor", 0.5, "Learning-rate factor of each decay (M_global "
                       "stall or lr_decay_every) (Berthelot et al. 2017 sec. 4.1: 0.5).")
    flags.DEFINE_integer("lr_patience", 0, "Steps without M_global improvement before a "
                         "decay; 0 disables (Berthelot et al. 2017 sec. 4.1 decays on stalls).")
    flags.DEFINE_integer("lr_decay_every", 0, "Also multiply the learning rates by "
                         "lr_decay_factor every N steps; 0 = off (Vertolli & Davies 2017: "
                         "every 100,000 steps; the no-flag run: 1000).")
    flags.DEFINE_float("min_learning_rate", 1e-6, "Floor of the learning-rate decay.")
    _define_run_flags()


def _define_data_flags():
    """Where the images come from and how they become the run's squares."""
    flags.DEFINE_string("dataset", "mnist5k", "mnist5k (5,000 embedded MNIST digits, "
                        "offline), tfds:NAME[:SPLIT] (e.g. tfds:celeb_a, tfds:cifar10) or "
                        "folder:PATH (jpg/png/bmp/gif, recursive).")
    flags.DEFINE_string("data_dir", None, "tfds data directory (default ~/tensorflow_datasets).")
    flags.DEFINE_bool("download", False, "Let tfds download and prepare missing data.")
    flags.DEFINE_enum("resize", "crop", ["crop", "pad", "stretch"], "How a non-square "
                      "image becomes square before resizing: crop (the --crop square), pad "
                      "(centred on --background, nothing cut) or stretch (aspect ratio "
                      "ignored).")
    flags.DEFINE_enum("crop", "center", ["center", "celeba"], "The square --resize=crop "
                      "keeps: center (the largest centred square), or the CelebA face box "
                      "of the public CelebA BEGANs.")
    flags.DEFINE_string("background", "white", "Colour transparent pixels (RGBA, grey+alpha, "
                        "palette transparency) are composited onto, and --resize=pad fills "
                        "with: white (as viewers show them), black, grey/gray or #rrggbb.")
    flags.DEFINE_integer("channels", None, "1 (grey) or 3 (colour); grey images are "
                         "repeated to RGB, colour turned into BT.601 luma. Not given: from "
                         "the data (a folder: 3 when any image is colour).")


def _define_run_flags():
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
    flags.DEFINE_enum("mixed_precision", None, ["auto", "bfloat16", "float16"],
                      "Mixed-precision compute dtype (losses, k and outputs stay float32; "
                      "float16 adds dynamic loss scaling). bfloat16: ~1.7x faster on CPUs "
                      "with AVX512-BF16/AMX; float16 or bfloat16 on GPUs with tensor "
                      "cores (docs/benchmarks.md). auto: bfloat16 on a CPU-only machine "
                      "whose CPU runs it natively (AVX512-BF16, AMX-BF16, Arm BF16), "
                      "float32 otherwise (tfbegan.training.precision).")
    flags.DEFINE_bool("jit_compile", False, "XLA-compile the train step. Off by default: "
                      "~20% slower on the CPU benchmark; usually faster on a GPU, where "
                      "Keras' own 'auto' turns it on (docs/benchmarks.md). Under XLA the "
                      "step-keyed z comes from another random stream.")
    flags.DEFINE_integer("steps_per_execution", 1, "Train steps per tf.function call "
                         "(callbacks act once per period crossed, so periods need not be "
                         "multiples). 1: no measurable gain on CPU; try 10-100 on a GPU "
                         "with small steps.")


def define_flags():
    """Defines the core training flags and every model family's flags."""
    _define_core_flags()
    for name in sorted(VARIANTS):
        importlib.import_module(VARIANTS[name]).define_flags()


def _check_family_flags(model):
    """Raises ValueError for a flag given explicitly that ``model`` does not read."""
    tables = family_flags()
    own = set().union(*(tables.get(fam, set()) for fam in FAMILIES[model]))
    for family, names in sorted(tables.items()):
        for name in sorted(names - own):
            if FLAGS[name].present:
                raise ValueError(f"--{name} is a flag of --model={family} and does not "
                                 f"apply to --model={model}.")


def _resolved_flags(preset=None):
    """FLAGS with the preset (default: the quickstart) / family defaults of
    ``tfbegan.cli.defaults`` applied."""
    if FLAGS.model not in VARIANTS:
        raise ValueError(f"--model={FLAGS.model!r} is not supported; allowed: "
                         f"{', '.join(sorted(VARIANTS))}.")
    family_defaults = {name: importlib.import_module(module).DEFAULTS
                       for name, module in VARIANTS.items()}
    return defaults.resolve(FLAGS, family_defaults, preset)


def _data_config(r):
    """The run's DataConfig, with a folder's size and channels chosen from its images
    when not given (``tfbegan.data.survey``)."""
    from tfbegan.data import pipeline as data_lib

    values = {field.name: getattr(r, field.name) for field in dataclasses.fields(DataConfig)
              if field.name in r}
    if not r.given("image_size") and values["dataset"].startswith("folder:"):
        values["image_size"] = None  # chosen from the images (tfbegan.data.survey)
    return data_lib.resolve(DataConfig(**values))


def _with_data_recipe(r, data):
    """``r`` with the recipe chosen from the data (``tfbegan.cli.recipes``) in place of
    the quickstart preset, when ``--dataset`` is given without ``--model``."""
    if not recipes.applies(FLAGS):
        return r
    from tfbegan.data import pipeline as data_lib

    count = data_lib.num_examples(data)
    recipe = recipes.choose(data.image_size)
    r = _resolved_flags(recipe)
    final = {name: getattr(r, name) for name in recipe}  # flags given win
    logging.getLogger("tfbegan").info("%s", recipes.describe(final, data.image_size, count))
    return r


def config_from_flags(f=FLAGS):
    """Turns the parsed flags into one frozen TrainConfig (validated).

    The TrainConfig, DataConfig and backbone fields are read from the flags of the
    same names (``tfbegan.config``), so a new setting needs only its field and flag.
    """
    from tfbegan.checks import check_image_size
    from tfbegan.models.config import BACKBONE_FIELDS
    from tfbegan.training.config import TrainConfig

    del f  # always the global FLAGS: defaults need to know which flags were given
    for module in VARIANTS.values():
        table = getattr(importlib.import_module(module), "TABLE", ())
        for message in flag_table.apply_renames(table, FLAGS):
            logging.getLogger("tfbegan").warning("%s", message)
    r = _resolved_flags()
    check_image_size(r.image_size)
    data = _data_config(r)
    r = _with_data_recipe(r, data)
    _check_family_flags(r.model)
    kwargs = {name: getattr(r, name) for name in BACKBONE_FIELDS if name in r}
    kwargs.update(image_size=data.image_size, channels=data.channels, seed=r.seed)
    kwargs.update(importlib.import_module(VARIANTS[r.model]).model_kwargs(r))
    settings = {field.name: getattr(r, field.name) for field in dataclasses.fields(TrainConfig)
                if field.name not in ("model_kwargs", "data") and field.name in r}
    export_base = r.export_base or None
    if export_base and not r.given("export_base") and r.workdir != "tfbegan_run":
        # The default export lives inside the run's workdir.
        export_base = os.path.join(r.workdir, "export", "generator")
    settings.update(model_kwargs=kwargs, data=data, export_base=export_base)
    return TrainConfig(**settings)


def main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}; flags look like --name=value.")
    if FLAGS.preset is not None:  # run() expands the command line's; this one is from a file
        common.fail(f"--preset={FLAGS.preset} inside a flagfile: use --flagfile=PATH "
                    "there (--preset works on the command line).")
    log = common.setup_logging()
    common.quiet_saved_model_logging(FLAGS)
    from tfbegan import fileio
    from tfbegan.training import train_lib

    try:
        summary = train_lib.train(config_from_flags(), FLAGS.workdir)
    except train_lib.TrainingInterrupted as e:
        # The checkpoint and its one-line notice are written by then.
        sys.exit(e.exit_code)
    except common.USER_ERRORS as e:
        full = fileio.as_disk_full(e, getattr(e, "filename", None) or FLAGS.workdir)
        common.fail(full or e)
    except KeyboardInterrupt:
        common.fail("interrupted; rerun the same command to resume from the last "
                    "checkpoint.", code=130)
    except Exception as e:
        full = fileio.as_disk_full(e, getattr(e, "filename", None) or FLAGS.workdir)
        if full is None:
            raise
        common.fail(full)
    _log_summary(log, summary)


def _log_summary(log, summary):
    k = "" if summary.get("k") is None else f", k {summary['k']:.4f}"
    log.info("done: step %d%s", summary["step"], k)
    for key, name in (("samples", "samples"), ("reconstructions", "reconstructions"),
                      ("convergence_plot", "convergence plot"),
                      ("export_dir", "exported generator")):
        if summary.get(key):
            log.info("%s: %s", name, summary[key])


#: ``--help``'s groups of the core flags (the family flags follow, one group each).
CORE_GROUPS = (
    ("data", ("dataset", "data_dir", "download", "resize", "crop", "background",
              "channels", "image_size")),
    ("model (every family)", ("preset", "model", "filters", "repeats", "z_dim", "h_dim")),
    ("training", ("learning_rate", "d_lr_ratio", "beta1", "batch_size", "steps",
                  "lr_decay_factor", "lr_patience", "lr_decay_every", "min_learning_rate",
                  "seed")),
    ("output", ("workdir", "log_every", "checkpoint_every", "sample_every",
                "keep_checkpoints", "export_base")),
    ("devices and speed", ("strategy", "num_gpus", "mixed_precision", "jit_compile",
                           "steps_per_execution")),
)


def help_groups():
    """The core groups, then each family's flags titled with the models that read
    them, then anything else this command defines."""
    groups = list(CORE_GROUPS)
    for family, names in sorted(family_flags().items()):
        readers = [m for m, families in FAMILIES.items() if family in families]
        title = f"model: {family} flags (--model={' or '.join(readers)})"
        groups.append((title, sorted(names)))
    ours = [n for n in FLAGS if n in _OWN_FLAGS]
    return help_lib.grouped(ours, groups)


#: Every flag this command defines (filled by run, for --help).
_OWN_FLAGS = set()


def run():
    """Console-script entry point."""
    try:
        sys.argv = presets.expand(sys.argv)
    except ValueError as e:
        common.fail(e)
    before = set(FLAGS)
    define_flags()
    _OWN_FLAGS.update(set(FLAGS) - before)
    help_lib.answer_help(__doc__, help_groups)
    common.import_tensorflow_quietly()
    app.run(main)


if __name__ == "__main__":
    run()

"""``tfbegan-export``: the newest checkpoint of a training run -> a SavedModel.

    tfbegan-export --workdir=RUN --export_base=export/NAME [--version=N] [--max_batch=B]

writes the generator with the signatures of :mod:`tfbegan.serving.export` to
``<export_base>/<version>/`` (the layout TensorFlow Serving polls) and prints that
path. ``--max_batch`` (default 1024, at most 65536) caps one request's batch in
every signature (checked in the graph, recorded in ``tfbegan.json``). Errors (a bad
flag, unwritable export_base, no checkpoint, an existing version) are one line on
stderr and exit status 1, before anything is loaded or written.
"""

from __future__ import annotations

import os

from absl import flags

from tfbegan.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The export flags (idempotent, so tests may call it more than once)."""
    from tfbegan.serving.limits import DEFAULT_MAX_BATCH, MAX_BATCH_LIMIT

    if "max_batch" not in FLAGS:
        flags.DEFINE_integer("max_batch", DEFAULT_MAX_BATCH,
                             f"Cap on one request's batch in every signature (z and "
                             f"images rows, num, steps), 1..{MAX_BATCH_LIMIT}; bounds "
                             f"the server's memory per request.")
    if "export_base" in FLAGS and "workdir" in FLAGS and "version" in FLAGS:
        return
    flags.DEFINE_string("workdir", None, "Training run directory (holds checkpoints/).")
    flags.DEFINE_string("export_base", None,
                        "Model base path for TensorFlow Serving, e.g. export/began; "
                        "the export lands in <export_base>/<version>/.")
    flags.DEFINE_integer("version", None,
                         "Version directory to write (a positive integer, never "
                         "overwritten); default: one more than the newest existing.")


def main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]} (use --flag=value).")
    common.quiet_saved_model_logging(FLAGS)
    try:
        # Validate everything cheap before loading the model.
        if not FLAGS.workdir:
            raise ValueError("--workdir is required (a tfbegan-train run directory).")
        if not FLAGS.export_base:
            raise ValueError("--export_base is required (e.g. export/began).")
        if FLAGS.version is not None and FLAGS.version < 1:
            raise ValueError(f"--version={FLAGS.version} must be a positive integer.")
        from tfbegan.serving import limits

        if not 1 <= FLAGS.max_batch <= limits.MAX_BATCH_LIMIT:
            raise ValueError(f"--max_batch={FLAGS.max_batch} must be an integer in "
                             f"[1, {limits.MAX_BATCH_LIMIT}].")
        if not os.path.isdir(FLAGS.workdir):
            raise FileNotFoundError(f"--workdir={FLAGS.workdir!r} is not a directory.")
        from tfbegan.serving import export
        from tfbegan.training import checkpoints

        if checkpoints.latest_checkpoint(FLAGS.workdir) is None:
            raise FileNotFoundError(
                f"no checkpoint in {checkpoints.checkpoint_dir(FLAGS.workdir)!r} "
                f"(expected ckpt-<step>.keras from tfbegan-train).")
        export.check_export_base(FLAGS.export_base)
        if FLAGS.version is not None:
            target = os.path.join(FLAGS.export_base, str(FLAGS.version))
            if os.path.exists(target):
                raise ValueError(f"version {FLAGS.version} already exists at {target!r}; "
                                 f"versions are never overwritten.")
        path = export.export_from_workdir(FLAGS.workdir, FLAGS.export_base,
                                          version=FLAGS.version,
                                          max_batch=FLAGS.max_batch)
    except (ValueError, FileNotFoundError, OSError) as e:
        common.fail(e if str(e) else type(e).__name__)
    print(path)


def run():
    common.run_app(define_flags, main, __doc__)


if __name__ == "__main__":
    run()

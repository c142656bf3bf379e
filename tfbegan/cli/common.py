"""Shared pieces of the absl mains: quiet TensorFlow, logging, one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile

# Before TensorFlow is imported anywhere: hide its C++ INFO and WARNING logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: TensorFlow's start-up lines on a machine without a GPU. They are written by C++
#: code to file descriptor 2 before absl's logging is initialised, so
#: TF_CPP_MIN_LOG_LEVEL does not filter them; :func:`import_tensorflow_quietly` drops
#: exactly these and passes every other line through.
STARTUP_CHATTER = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called|cudart_stub\.cc|"
    r"failed call to cuInit|cpu_feature_guard\.cc|To enable the following "
    r"instructions|computation placer already registered|Unable to register cu(DNN|FFT|"
    r"BLAS) factory|TF-TRT Warning")


@contextlib.contextmanager
def _stderr_filtered(pattern):
    """Sends file descriptor 2 (C++ writes included) to a temporary file while the
    block runs, then writes back every line that does not match ``pattern``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines()
                    if not pattern.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def import_tensorflow_quietly():
    """Imports TensorFlow and lists its devices (where CUDA start-up logs), dropping
    the :data:`STARTUP_CHATTER` lines; anything else TensorFlow prints still shows."""
    with _stderr_filtered(STARTUP_CHATTER):
        import tensorflow as tf

        tf.config.list_physical_devices()


def setup_logging(level=logging.INFO):
    """Routes the "tfbegan" logger to stderr as plain lines."""
    log = logging.getLogger("tfbegan")
    if not any(getattr(h, "_tfbegan", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        handler._tfbegan = True
        log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    return log


def quiet_saved_model_logging(flag_values):
    """Drops absl/TensorFlow INFO logs (SavedModel I/O logs every asset at INFO)
    unless the user asked for a verbosity with ``--verbosity``."""
    from absl import logging as absl_logging

    if not flag_values["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.WARNING)
        logging.getLogger("tensorflow").setLevel(logging.WARNING)
        logging.getLogger("absl").setLevel(logging.WARNING)


def define_generator_source_flags(flag_values):
    """``--export_dir`` / ``--checkpoint``: where a tool reads the generator from
    (``tfbegan.serving.latent.load_generator`` takes both)."""
    from absl import flags

    flags.DEFINE_string("export_dir", None, "SavedModel from tfbegan-export (a version "
                        "directory or a model base path: its newest version).",
                        flag_values=flag_values)
    flags.DEFINE_string("checkpoint", None, "Instead of --export_dir: a "
                        "ckpt-<step>.keras file or a tfbegan-train workdir (newest "
                        "checkpoint).", flag_values=flag_values)


def define_flags_once(flag_values, sentinel, specs, generator_source=False):
    """Defines every ``(kind, name, default, help[, extra kwargs])`` of ``specs`` (kind
    as in absl's ``DEFINE_<kind>``; an enum's extra is ``{"enum_values": [...]}``) on
    ``flag_values``, plus :func:`define_generator_source_flags` when asked; does
    nothing when the flag ``sentinel`` is already there (several commands and tests
    share one registry).

    An extra ``{"renamed_from": ("old",)}`` keeps the old name working for one release
    (``tfbegan.cli.flag_table``'s mechanism, as tfbegan-train's): :func:`apply_renames`
    moves its value to the new name with one warning line."""
    from absl import flags

    from tfbegan.cli import flag_table

    if sentinel in flag_values:
        return
    if generator_source:
        define_generator_source_flags(flag_values)
    renamed = {row.name: row for row in rename_rows(specs)}
    for kind, name, default, help_text, *extra in specs:
        if name in renamed:
            flag_table.define([renamed[name]], flag_values)
            continue
        getattr(flags, f"DEFINE_{kind}")(name, default, help=help_text,
                                          flag_values=flag_values,
                                          **(extra[0] if extra else {}))


def rename_rows(specs):
    """``tfbegan.cli.flag_table.Flag`` rows of the ``specs`` that have old names."""
    from tfbegan.cli import flag_table

    rows = []
    for kind, name, default, help_text, *extra in specs:
        extra = dict(extra[0]) if extra else {}
        if extra.get("renamed_from"):
            rows.append(flag_table.Flag(
                {"boolean": "bool"}.get(kind, kind), name, default, help_text,
                choices=tuple(extra.get("enum_values", ())),
                renamed_from=tuple(extra["renamed_from"])))
    return rows


def apply_renames(specs, flag_values):
    """Moves the old flag names of ``specs`` given on the command line to their new
    names, with one warning line each; ValueError when both names are given."""
    from tfbegan.cli import flag_table

    for message in flag_table.apply_renames(rename_rows(specs), flag_values):
        print(f"warning: {message}", file=sys.stderr, flush=True)


def guarded(fn, *args):
    """``fn(*args)``; a user error ends the process with one ``error: ...`` line."""
    try:
        return fn(*args)
    except USER_ERRORS + (OSError, KeyError) as e:
        fail(str(e) or type(e).__name__)


def check_generator_source(f, alternative=None):
    """Exactly one of ``--export_dir`` and ``--checkpoint`` (or neither when the
    flag named by ``alternative``, e.g. ``"train_classifier"``, is set)."""
    if f.export_dir and f.checkpoint:
        raise ValueError("pass only one of --export_dir and --checkpoint.")
    if not (f.export_dir or f.checkpoint or (alternative and getattr(f, alternative))):
        extra = f", or --{alternative}" if alternative else ""
        raise ValueError(f"pass --export_dir=SAVEDMODEL (or --checkpoint=PATH){extra}.")


def fail(message, code=1):
    """Prints ``error: message`` as one line to stderr and exits non-zero."""
    text = " ".join(str(message).split())
    print(f"error: {text}", file=sys.stderr, flush=True)
    sys.exit(code)


def check_out_path(path, flag="out"):
    """Checks that the PNG ``path`` can be written, before any work: its directory
    exists (it is not created: a typo would otherwise leave a stray tree) and is
    writable, and ``path`` is not a directory."""
    if not path:
        raise ValueError(f"--{flag} is required.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"--{flag}={path}: the directory {directory} does not "
                                f"exist; create it first or choose another path.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"--{flag}={path} is a directory; give a file name such "
                                f"as {os.path.join(path, 'grid.png')}.")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"--{flag}={path}: no permission to write in {directory}.")


USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
               PermissionError, FloatingPointError)


def command_main(execute, log_level=None):
    """An absl ``main(argv)`` that rejects positional arguments, optionally routes the
    "tfbegan" logger to stderr at ``log_level``, and runs ``execute(FLAGS)``."""
    def main(argv):
        if len(argv) > 1:
            fail(f"unexpected arguments {argv[1:]}; flags look like --name=value.")
        if log_level is not None:
            setup_logging(log_level)
        from absl import flags

        quiet_saved_model_logging(flags.FLAGS)
        execute(flags.FLAGS)
    return main


def run_app(define_flags, main, doc, groups=None):
    """Console-script body: defines the flags on absl's FLAGS, answers ``--help``
    with the command's own flags (``tfbegan.cli.help``; ``groups`` as there, default:
    one group of every flag ``define_flags`` added), then runs ``main`` under
    ``absl.app.run``."""
    from absl import app, flags

    from tfbegan.cli import help as help_lib

    before = set(flags.FLAGS)
    define_flags()
    ours = [name for name in flags.FLAGS if name not in before]
    help_lib.answer_help(doc, groups or [("flags", ours)])
    import_tensorflow_quietly()
    app.run(main)


def run_command(define_flags, execute, doc, log_level=None):
    """:func:`run_app` with :func:`command_main` (``execute(FLAGS)``)."""
    run_app(define_flags, command_main(execute, log_level), doc)

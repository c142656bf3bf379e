"""Shared pieces of the absl mains: quiet TensorFlow, logging, one-line errors."""

from __future__ import annotations

import logging
import os
import sys

# Before TensorFlow is imported anywhere: hide its C++ start-up chatter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


def fail(message, code=1):
    """Prints ``error: message`` as one line to stderr and exits non-zero."""
    text = " ".join(str(message).split())
    print(f"error: {text}", file=sys.stderr, flush=True)
    sys.exit(code)


USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError,
               FloatingPointError)

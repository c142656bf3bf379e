"""The batch cap of an export's signatures, without TensorFlow (the CLIs check their
flags against it before importing TensorFlow).

``max_batch`` is chosen at export (``export_generator(max_batch=...)``,
``tfbegan-export --max_batch``) and checked inside the graph of every signature: at
most ``max_batch`` rows of ``z`` (``serving_default``) or ``images`` (``encode``),
``num`` in [1, max_batch] (``sample``) and ``steps`` in [2, max(2, max_batch)]
(``interpolate``). It bounds the memory one request can take: before it, 60,000
images took a tiny model's server from 761 to 2,197 MiB.
"""

from __future__ import annotations

import numbers

#: Default cap on one request's batch.
DEFAULT_MAX_BATCH = 1024
#: Largest ``max_batch`` an export accepts.
MAX_BATCH_LIMIT = 65536


def check_max_batch(max_batch):
    """``max_batch`` as an int; ValueError unless an integer in [1, MAX_BATCH_LIMIT]."""
    if (isinstance(max_batch, bool) or not isinstance(max_batch, numbers.Integral)
            or not 1 <= max_batch <= MAX_BATCH_LIMIT):
        raise ValueError(f"max_batch={max_batch!r} must be an integer in "
                         f"[1, {MAX_BATCH_LIMIT}].")
    return int(max_batch)


def steps_cap(max_batch):
    """The ``interpolate`` cap on ``steps``: ``max_batch``, but at least its two ends."""
    return max(2, int(max_batch))

"""Image folders: a safe recursive listing and a decode-once in-memory copy.

Listing (:func:`list_image_files`) follows symbolic links that stay inside the
dataset folder (a folder of links to other folders of the same dataset is common),
but never one that leads out of it, and never visits one real directory twice, so
``ln -s .. DIR/loop`` neither loops (``os.walk(followlinks=True)`` would walk
``DIR/loop/DIR/loop/...`` until the path length limit: 9,696 files found for 16
real images) nor pulls in the images of sibling folders. What was skipped is
counted and reported in one warning per folder and process.

Decoding (:func:`decode_in_memory`): every file is decoded (``tfbegan.data.decode``:
transparency composited, the run's channels), squared and resized once into a uint8
array, memoised by (real paths, sizes and modification times, decode settings), so
the training pipeline and the fixed real batch of the same run
(:func:`tfbegan.data.pipeline.fixed_real_batch`) share one decode instead of two.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time

import numpy as np
import tensorflow as tf

from tfbegan.data.decode import decode_file

__all__ = ["IMAGE_EXTENSIONS", "check_files_pil", "clear_cache", "decode_in_memory",
           "fingerprint", "list_image_files", "log_skipped"]

# The data pipeline's logger: users filter one name for everything about their data.
logger = logging.getLogger("tfbegan.data.pipeline")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
_MAX_NAMED = 5
# Folders whose skipped-link warning was already given in this process.
_WARNED = set()
# One folder: a run reads one, and the decoded copy (up to cache_limit_mb) stays
# resident for the process's life, so keeping more would multiply that memory.
_CACHE_ENTRIES = 1
_cache = collections.OrderedDict()
_cache_lock = threading.Lock()


def _inside(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(folder):
    """``(image paths, skipped links)`` under ``folder`` (see the module docstring)."""
    root_real = os.path.realpath(folder)
    st = os.stat(root_real)
    seen_dirs = {(st.st_dev, st.st_ino)}
    seen_files = set()
    paths, skipped = [], []
    for root, dirs, files in os.walk(folder, followlinks=True):
        keep = []
        for name in sorted(dirs):
            full = os.path.join(root, name)
            real = os.path.realpath(full)
            try:
                st = os.stat(real)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if not _inside(real, root_real) or key in seen_dirs:
                skipped.append(full)
                continue
            seen_dirs.add(key)
            keep.append(name)
        dirs[:] = keep
        for name in files:
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            full = os.path.join(root, name)
            real = os.path.realpath(full)
            if not _inside(real, root_real) or real in seen_files:
                skipped.append(full)
                continue
            seen_files.add(real)
            paths.append(full)
    return sorted(paths), skipped


def _warn_skipped_links(folder, skipped):
    key = os.path.realpath(folder)
    if not skipped or key in _WARNED:
        return
    _WARNED.add(key)
    names = [os.path.relpath(p, folder) for p in skipped[:_MAX_NAMED]]
    more = f" and {len(skipped) - _MAX_NAMED} more" if len(skipped) > _MAX_NAMED else ""
    logger.warning("Skipped %d symbolic links under %s that lead out of it or to a "
                   "directory or file already listed: %s%s", len(skipped), folder,
                   ", ".join(names), more)


def list_image_files(folder) -> list[str]:
    """Every ``IMAGE_EXTENSIONS`` file (case-insensitive) under ``folder``, sorted.

    Links leading out of ``folder``, and second visits of one real directory or
    file, are skipped (one warning per folder and process).

    Raises ``ValueError`` naming the folder when it does not exist or holds none.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"dataset folder {folder!r} does not exist or is not a "
                         f"directory; pass dataset='folder:PATH' with an existing folder.")
    paths, skipped = _walk(folder)
    _warn_skipped_links(folder, skipped)
    if not paths:
        raise ValueError(f"dataset folder {folder!r} holds no image files "
                         f"({', '.join(IMAGE_EXTENSIONS)}, searched recursively).")
    return paths


def log_skipped(folder, bad, total):
    """One warning naming (up to five of) the files that cannot be decoded."""
    if not bad:
        return
    names = [os.path.relpath(p, folder) for p in bad[:_MAX_NAMED]]
    more = f" and {len(bad) - _MAX_NAMED} more" if len(bad) > _MAX_NAMED else ""
    logger.warning("Skipping %d of %d image files under %s that cannot be decoded: %s%s",
                   len(bad), total, folder, ", ".join(names), more)


def check_files_pil(paths):
    """Cheap structural check with PIL (header parse plus ``verify``); returns bad paths.

    ``verify`` reads the headers and, for PNG, every chunk's CRC, without decoding
    pixels: about a tenth of a millisecond per file.
    """
    from PIL import Image  # only folders need PIL

    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception:  # any failure means unusable
            bad.append(path)
    return bad


def _decode_all(paths, settings):
    """Decodes every file into uint8 ``[N, S, S, C]``; returns (images, bad paths).

    Failures are found by index: a ``(index, image)`` dataset with ``ignore_errors``
    drops exactly the elements whose read or decode failed, so the missing indices
    name the bad files.
    """
    n = len(paths)
    ds = tf.data.Dataset.from_tensor_slices((np.arange(n, dtype=np.int64), paths))
    ds = ds.map(lambda i, p: (i, decode_file(p, settings)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    # Autotuning off, as everywhere in tfbegan.data.pipeline (its thread delays teardown).
    options.autotune.enabled = False
    ds = ds.ignore_errors().batch(256).prefetch(1).with_options(options)
    size = settings.image_size
    images = np.empty((n, size, size, settings.channels), np.uint8)
    ok = np.zeros(n, bool)
    for idx, batch in ds.as_numpy_iterator():
        images[idx] = batch
        ok[idx] = True
    bad = [paths[i] for i in np.flatnonzero(~ok)]
    return images[ok], bad


def fingerprint(paths):
    """``((real path, size, mtime_ns), ...)`` of ``paths``: a key that changes with
    any file."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((os.path.realpath(p), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((p, -1, -1))
    return tuple(out)


def decode_in_memory(paths, settings, folder=None):
    """``(images uint8 [N, S, S, C], bad paths)``, decoded once per process.

    ``settings``: a ``tfbegan.data.decode.DecodeSettings``. The result is memoised
    (the most recent folder only) by the files' real paths, sizes and modification
    times and the settings; a changed file is decoded
    afresh. The array is read-only: copy before editing in place. With ``folder``,
    a fresh decode logs its duration and names the files that cannot be decoded
    (a memoised result logs nothing: the warning was given once).
    """
    key = (fingerprint(paths), settings)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    start = time.time()
    if folder is not None:
        logger.info("Decoding %d image files under %s into memory (at most %.1f MiB).",
                    len(paths), folder,
                    len(paths) * settings.image_size**2 * settings.channels / 2**20)
    images, bad = _decode_all(list(paths), settings)
    images.setflags(write=False)
    if folder is not None:
        log_skipped(folder, bad, len(paths))
        logger.info("Decoded %d images from %s into memory (%.1f MiB) in %.1f s.",
                    len(images), folder, images.nbytes / 2**20, time.time() - start)
    with _cache_lock:
        _cache[key] = (images, bad)
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return images, bad


def clear_cache():
    """Forgets memoised decodes and given warnings (for tests and long sessions)."""
    with _cache_lock:
        _cache.clear()
    _WARNED.clear()

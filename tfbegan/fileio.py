"""File-writing helpers shared by every writer of a run: disk-full errors and
per-run temporary names.

A full disk (``ENOSPC``, or a quota's ``EDQUOT``) surfaces in different shapes
depending on the writer: ``OSError`` from Python's ``open`` / ``write``,
``tf.errors.ResourceExhaustedError`` from TensorFlow's file system layer (SavedModel
export, TFRecord writers, summaries), and an ``OSError`` without ``errno`` from h5py
whose message holds "No space left on device". :func:`disk_full_guard` turns all of
them into one :class:`DiskFullError` whose message is a single line naming the path
and the bytes the write needed, so a CLI can print it and exit non-zero instead of
showing a traceback.

Temporary names carry the writer's PID and host (:func:`temp_name`), so that the
cleanup of one run (:func:`is_removable_temp`) never deletes the temporary file of
another run writing into the same directory, only its own and those of processes
that provably no longer exist on this host.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import socket

__all__ = [
    "DiskFullError",
    "as_disk_full",
    "check_utf8_path",
    "disk_full_guard",
    "free_bytes",
    "is_disk_full",
    "is_removable_temp",
    "read_json",
    "remove_path",
    "temp_name",
    "temp_owner",
    "tree_bytes",
]

_DISK_FULL_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_DISK_FULL_TEXT = ("no space left on device", "disk quota exceeded")


class DiskFullError(OSError):
    """A write failed because the file system is full (``errno.ENOSPC``).

    ``str(error)`` is one line: the path, the bytes the write needed (an estimate
    when the exact size is unknown) and the bytes free there, e.g.::

        no space left on device writing /runs/a/checkpoints/ckpt-00000075.keras:
        needs about 1.2 MiB at its peak, 0 B free once its partial files were
        removed; free some space or choose another directory

    Attributes:
      path: the file or directory being written.
      bytes_needed: the estimate of the write's peak (checkpoints: an upper bound),
        or None.
      bytes_free: free bytes on the path's file system once the write's partial
        files were removed (what the user has to work with).
    """

    def __init__(self, path, bytes_needed=None, bytes_free=None):
        self.path = os.fspath(path)
        self.bytes_needed = None if bytes_needed is None else int(bytes_needed)
        self.bytes_free = bytes_free
        parts = []
        if self.bytes_needed is not None:
            parts.append(f"needs about {_human(self.bytes_needed)} at its peak")
        if bytes_free is not None:
            parts.append(f"{_human(bytes_free)} free once its partial files were removed")
        detail = f": {', '.join(parts)}" if parts else ""
        message = (f"no space left on device writing {self.path}{detail}; free some "
                   f"space or choose another directory")
        super().__init__(errno.ENOSPC, message, self.path)
        self.message = message

    def __str__(self):
        return self.message

    def __reduce__(self):
        return type(self), (self.path, self.bytes_needed, self.bytes_free)


def _human(num):
    """Bytes as ``123 B`` / ``4.5 KiB`` / ``6.7 MiB`` / ``8.9 GiB``."""
    value = float(num)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def free_bytes(path):
    """Free bytes on the file system of ``path`` or its nearest existing parent."""
    path = os.path.abspath(os.fspath(path))
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def is_disk_full(error):
    """True when ``error`` (any exception) means the disk or a quota is full."""
    if isinstance(error, DiskFullError):
        return True
    if isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS:
        return True
    text = str(error).lower()
    try:
        import tensorflow as tf  # lazily: the helpers above need no TensorFlow

        if isinstance(error, tf.errors.ResourceExhaustedError):
            # TF reports ENOSPC as RESOURCE_EXHAUSTED; so is an out-of-memory
            # allocation, which must not be mistaken for a full disk.
            return "space" in text or "quota" in text or "write" in text
    except ImportError:  # pragma: no cover
        pass
    return any(fragment in text for fragment in _DISK_FULL_TEXT)


def as_disk_full(error, path, bytes_needed=None):
    """A :class:`DiskFullError` for ``error`` if it means a full disk, else None."""
    if isinstance(error, DiskFullError):
        return error
    if not is_disk_full(error):
        return None
    return DiskFullError(path, bytes_needed, free_bytes(path))


@contextlib.contextmanager
def disk_full_guard(path, bytes_needed=None, cleanup=None):
    """Turns a disk-full failure inside the block into :class:`DiskFullError`.

    Args:
      path: what the block writes (named in the message).
      bytes_needed: estimated size of the write (an int, or a callable returning
        one, evaluated only on a disk-full failure, before ``cleanup``).
      cleanup: optional callable run on any failure before re-raising, e.g. to
        remove the block's temporary files.

    Other exceptions pass through unchanged (after ``cleanup``).
    """
    try:
        yield
    except BaseException as e:
        full = None
        if isinstance(e, Exception) and is_disk_full(e):
            # Before cleanup: an estimate may measure what was written so far.
            needed = bytes_needed() if callable(bytes_needed) else bytes_needed
            full = as_disk_full(e, path, needed)
        if cleanup is not None:
            cleanup()
        if full is not None:
            # Free space after cleanup: what the user has to work with.
            full = DiskFullError(full.path, full.bytes_needed, free_bytes(path))
        if full is None:
            raise
        raise full from e


def read_json(path, what="file"):
    """The JSON in ``path``; a ``ValueError`` naming the file when it is not JSON.

    ``json.load``'s own message ("Expecting property name enclosed in double
    quotes: line 2 column 1") does not say which file; this one does, in one line:
    ``config.json /runs/a/config.json is not valid JSON (line 2, column 1:
    Expecting property name ...); fix or delete it``.
    """
    name = f"{what} {os.fspath(path)}"
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name} is not valid JSON (line {e.lineno}, column {e.colno}: "
                         f"{e.msg}); fix or delete it.") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{name} is not JSON text (byte {e.start} is not UTF-8); fix or "
                         f"delete it.") from None
    except IsADirectoryError:
        raise ValueError(f"{name} is a directory, not a JSON file; remove it.") from None
    except OSError as e:
        raise ValueError(f"{name} cannot be read ({e.strerror or e}).") from None


def check_utf8_path(path, flag):
    """Raises ValueError naming ``--flag`` unless ``path`` is valid UTF-8.

    Python keeps undecodable bytes of a command-line path (``\\xff``) as surrogates,
    which TensorFlow's file system layer (summaries, SavedModel, tf.io) cannot take:
    without this check a run fails after its first steps, naming no path.
    """
    if path is None:
        return path
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--{flag}={path!r} is not a UTF-8 path (byte {e.start}); "
                         f"TensorFlow writes UTF-8 paths only: rename it.") from None
    return path


# --- per-run temporary names -------------------------------------------------------

_TEMP = re.compile(r"\.tmp-(\d+)@([A-Za-z0-9_.\-]+?)(\.d)?$")


def _host():
    # Host names are used inside file names: keep the portable characters only.
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", socket.gethostname()) or "localhost"


def temp_name(final_path, directory=False):
    """``<final_path>.tmp-<pid>@<host>`` (``+ ".d"`` for a directory).

    The name says which process wrote it, so cleanup can leave other runs' alone.
    """
    return f"{os.fspath(final_path)}.tmp-{os.getpid()}@{_host()}" + (
        ".d" if directory else "")


def temp_owner(path):
    """``(pid, host)`` of a :func:`temp_name`, or None for any other name."""
    match = _TEMP.search(os.path.basename(os.fspath(path)))
    if not match:
        return None
    return int(match.group(1)), match.group(2)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_removable_temp(path):
    """True for our own temporary files and those of dead processes on this host.

    A temporary of a live process, of another host (a shared file system: its
    processes cannot be checked from here), or without an owner tag is not
    removable.
    """
    owner = temp_owner(path)
    if owner is None:
        return False
    pid, host = owner
    if host != _host():
        return False
    return pid == os.getpid() or not _pid_alive(pid)


def tree_bytes(path):
    """Total size of the files under ``path`` (a file's size for a file; 0 if
    missing)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, name))
    return total


def remove_path(path):
    """Removes a file or a directory tree; missing paths are fine."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

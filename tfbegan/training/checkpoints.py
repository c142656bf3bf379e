"""Atomic, resumable checkpoints of a whole training run.

A checkpoint is one ``.keras`` archive (architecture config, weights, k, every
optimizer's state including its learning rate and iteration count) plus a JSON
sidecar with run state that is not a model variable (callback state, history).

Writing (:func:`save_checkpoint`): both files are first written in full to
temporary names that carry the writer's PID and host
(``ckpt-<step>.keras.tmp-<pid>@<host>.d/``, ``ckpt-<step>.json.tmp-<pid>@<host>``),
then renamed into place, the archive first and the sidecar second. A full disk
can only strike while the temporaries are written, before anything is renamed: the
writer then removes its temporaries and raises :class:`tfbegan.fileio.DiskFullError`,
and every earlier checkpoint is untouched. A run killed between the two renames
leaves an archive without its sidecar, which :func:`load_checkpoint` handles. Cleanup
removes only this process's temporaries and those of processes that no longer exist
on this host, never those of another live run.

Reading (:func:`load_latest`): checkpoints are tried newest first; one that fails to
load (truncated, overwritten, a zip member missing) is named in a warning and moved
into ``checkpoints/corrupt/`` with its sidecar (never deleted), and the previous one
is used. When none loads, :class:`NoUsableCheckpointError` says so in one line and
nothing is moved. :func:`read_model_config` reads a checkpoint's model class and
constructor arguments without building the model.

Layout::

    <workdir>/checkpoints/ckpt-00001000.keras
    <workdir>/checkpoints/ckpt-00001000.json
    <workdir>/checkpoints/corrupt/ckpt-00000900.keras   (moved aside on resume)
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import zipfile

import keras
import numpy as np

from tfbegan import fileio

# Importing the models registers their classes with Keras, which load_model needs.
from tfbegan.models import MODELS
from tfbegan.steps import global_step
from tfbegan.training.finite_state import NonFiniteStateError, non_finite_state

logger = logging.getLogger("tfbegan")

CHECKPOINT_DIR = "checkpoints"
CORRUPT_DIR = "corrupt"
_NAME = re.compile(r"^ckpt-(\d+)\.keras$")
# What every Keras 3 .keras archive holds (saving_lib's layout).
_MEMBERS = ("config.json", "model.weights.h5")


class CheckpointError(ValueError):
    """A checkpoint cannot be read; the one-line message names the file and why."""


class NoUsableCheckpointError(CheckpointError):
    """A workdir holds checkpoints but none of them loads."""


def checkpoint_dir(workdir):
    return os.path.join(workdir, CHECKPOINT_DIR)


def sidecar_path(path):
    """The ``.json`` sidecar of the archive ``path``."""
    return path[:-len(".keras")] + ".json"


def list_checkpoints(workdir):
    """``[(step, path)]`` of complete checkpoints, oldest first."""
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir(workdir), "ckpt-*.keras")):
        m = _NAME.match(os.path.basename(path))
        if m and os.path.isfile(path):
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest_checkpoint(workdir):
    """Path of the newest complete checkpoint in ``workdir``, or None."""
    found = list_checkpoints(workdir)
    return found[-1][1] if found else None


# --- writing -------------------------------------------------------------------------

def _write_json_file(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())


def _estimated_bytes(model, directory):
    """An upper bound of the bytes a checkpoint takes at the peak of its write.

    The archive (the newest one's size, else 3x the weights: Adam keeps two slots per
    trained variable), Keras' temporary copy of the weights beside it (written when
    memory is short), the sidecar and the temporary directory, each rounded up to
    whole file-system blocks, plus 10%.
    """
    found = [p for _, p in list_checkpoints(os.path.dirname(directory)) if os.path.exists(p)]
    if found:
        archive = os.path.getsize(found[-1])
        sidecar = os.path.getsize(sidecar_path(found[-1])) if os.path.exists(
            sidecar_path(found[-1])) else 4096
    else:
        archive = 3 * 4 * max(sum(int(np.prod(v.shape)) for v in model.weights), 1)
        sidecar = 4096
    try:
        block = os.statvfs(directory).f_frsize or 4096
    except OSError:
        block = 4096
    blocks = sum(-(-size // block) for size in (archive, archive, sidecar, block))
    return int(blocks * block * 1.1)


def save_checkpoint(model, workdir, step, state=None, keep=3):
    """Writes ``ckpt-<step>.keras`` (+ ``.json`` with ``state``) atomically.

    Keeps the newest ``keep`` checkpoints (0: all) and returns the archive's path.

    Raises:
      tfbegan.fileio.DiskFullError: the disk filled up; one line naming the path
        and the bytes needed. No temporary file is left and earlier checkpoints are
        intact.
      NonFiniteStateError: a weight or optimizer variable holds NaN or Inf; nothing
        is written (a checkpoint is only ever a state training can continue from).
    """
    bad = non_finite_state(model)
    if bad:
        raise NonFiniteStateError(
            f"not saving step {int(step)}: {len(bad)} weight or optimizer tensors hold "
            f"NaN or Inf (first: {bad[0]}).")
    directory = checkpoint_dir(workdir)
    base = os.path.join(directory, f"ckpt-{int(step):08d}")
    final, sidecar = base + ".keras", base + ".json"
    # keras refuses names not ending in .keras, so write into a temporary folder.
    tmp_dir = fileio.temp_name(final, directory=True)
    tmp_file = os.path.join(tmp_dir, "model.keras")
    tmp_json = fileio.temp_name(sidecar)

    def cleanup():
        for path in (tmp_dir, tmp_json):
            fileio.remove_path(path)

    def needed():
        return _estimated_bytes(model, directory)

    with fileio.disk_full_guard(final, needed, cleanup=cleanup):
        os.makedirs(tmp_dir, exist_ok=True)
        model.save(tmp_file)
        with open(tmp_file, "rb") as f:
            os.fsync(f.fileno())
        _write_json_file(tmp_json, {"step": int(step), **(state or {})})
    # Renames allocate nothing (short of a directory block): the disk can no longer
    # fill between them. A failure after the first leaves an archive without its
    # sidecar, which load_checkpoint handles.
    with fileio.disk_full_guard(final, needed, cleanup=cleanup):
        os.replace(tmp_file, final)
        os.replace(tmp_json, sidecar)
        os.rmdir(tmp_dir)
    _prune(workdir, keep)
    _clean_debris(directory)
    return final


def _prune(workdir, keep):
    for _, old in list_checkpoints(workdir)[:-keep] if keep else []:
        for p in (old, sidecar_path(old)):
            fileio.remove_path(p)


def _clean_debris(directory):
    """Removes temporaries of this process and of dead ones, and orphan sidecars.

    Another live run's temporaries are left alone (it is still writing them), as
    are untagged ``*.tmp`` names, which only tfbegan versions before per-run names
    wrote and which readers ignore.
    """
    for debris in glob.glob(os.path.join(directory, "*.tmp-*")):
        if fileio.is_removable_temp(debris):
            fileio.remove_path(debris)
    # The sidecar is renamed after its archive, so a sidecar without an archive is
    # left only by older versions (which renamed it first) or by hand: drop it.
    for sidecar in glob.glob(os.path.join(directory, "ckpt-*.json")):
        if not os.path.exists(sidecar[:-len(".json")] + ".keras"):
            fileio.remove_path(sidecar)


# --- reading -------------------------------------------------------------------------

def _first_line(error):
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def verify_archive(path):
    """Raises :class:`CheckpointError` unless ``path`` is a complete ``.keras`` zip.

    Checks the zip's central directory, every member's CRC (``testzip``) and that
    the members Keras needs are present: a truncated file, random bytes or a file
    with a member removed all fail here with their reason, not with Keras' "File not
    found" for a file that exists.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path!r} is not a readable .keras archive "
                              f"(truncated or overwritten: {_first_line(e)}).") from None
    if bad is not None:
        raise CheckpointError(f"checkpoint {path!r} is corrupt (member {bad!r} fails its "
                              f"CRC check).")
    missing = [m for m in _MEMBERS if m not in names]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} is incomplete (missing "
                              f"{', '.join(missing)}).")


def read_model_config(path):
    """The model's class and constructor config stored in a checkpoint, unbuilt.

    Reads ``config.json`` from the ``.keras`` zip (Keras' serialized model) without
    importing the model class or creating a variable.

    Returns:
      ``{"class_name": "BEGAN", "registered_name": "tfbegan>BEGAN",
      "module": ..., "config": {"image_size": 8, "filters": 8, ...},
      "compile_config": {...} or None}``; ``config`` holds the model's
      ``get_config()`` (constructor arguments, plus Keras' ``name`` / ``trainable``).

    Raises:
      CheckpointError: the archive is unreadable or holds no model config.
    """
    verify_archive(path)
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("config.json"))
    except (ValueError, KeyError, OSError) as e:
        raise CheckpointError(f"checkpoint {path!r}: unreadable config.json "
                              f"({_first_line(e)}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise CheckpointError(f"checkpoint {path!r}: config.json holds no model config.")
    return {"class_name": data.get("class_name"),
            "registered_name": data.get("registered_name"),
            "module": data.get("module"),
            "config": data["config"],
            "compile_config": data.get("compile_config")}


#: Keras' own constructor keys in a model's config, not tfbegan settings.
_KERAS_KEYS = ("name", "trainable", "dtype")


def model_settings(path):
    """``(model_name, model_kwargs)`` a checkpoint was built with, without building it.

    ``model_name`` is the ``tfbegan.models.MODELS`` key of the stored class (e.g.
    ``"began"``; the class name itself for a class not in ``MODELS``);
    ``model_kwargs`` is its constructor config less Keras' ``name`` / ``trainable``
    / ``dtype``, JSON-typed (tuples come back as lists). A run whose config.json is
    missing checks its flags against these, as on any resume.
    """
    stored = read_model_config(path)
    names = {cls.__name__: name for name, cls in MODELS.items()}
    kwargs = {k: v for k, v in stored["config"].items() if k not in _KERAS_KEYS}
    return names.get(stored["class_name"], stored["class_name"]), kwargs


def _file_step(path):
    m = _NAME.match(os.path.basename(path))
    return int(m.group(1)) if m else None


def _read_sidecar(path, model, resuming=True):
    """The sidecar state; without a readable sidecar, ``{"step": <model's step>}``
    and a warning worded for a resume (``resuming``) or for a reader (an export or an
    evaluation, which a live run may race by pruning the checkpoint)."""
    sidecar = sidecar_path(path)
    problem = "is missing"
    if os.path.exists(sidecar):
        try:
            with open(sidecar) as f:
                state = json.load(f)
            if isinstance(state, dict):
                return state
            problem = "holds no JSON object"
        except (OSError, ValueError) as e:
            problem = f"is unreadable ({_first_line(e)})"
    step = global_step(model)
    step = _file_step(path) if step is None else step
    if resuming:
        logger.warning("checkpoint sidecar %s %s: resuming from step %s taken from the "
                       "model's optimizer; callback state (learning-rate decay "
                       "bookkeeping) starts afresh.", sidecar, problem, step)
    else:
        logger.warning("checkpoint sidecar %s %s (a live run may have pruned it): "
                       "reading %s as step %s.", sidecar, problem,
                       os.path.basename(path), step)
    return {} if step is None else {"step": step}


def load_checkpoint(path, compile=True):
    """Loads the model in ``path`` (weights, k, optimizers) and its sidecar state.

    Returns ``(model, state)``. Without a readable sidecar (deleted, or a run killed
    between the archive's rename and the sidecar's), ``state`` is
    ``{"step": N}`` with N the model's optimizer iteration count (the file name's
    step when ``compile=False``, as readers load) and a warning says so: that
    callback state starts afresh for a resume (``compile=True``), that a live run
    may have pruned the sidecar for a reader.

    Raises:
      CheckpointError: the archive is corrupt or Keras cannot rebuild it (one line
        naming the file).
    """

    verify_archive(path)
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as e:  # any failure means this file is unusable
        raise CheckpointError(f"checkpoint {path!r} does not load "
                              f"({type(e).__name__}: {_first_line(e)}).") from None
    return model, _read_sidecar(path, model, resuming=compile)


def move_aside(path):
    """Moves an archive and its sidecar into ``checkpoints/corrupt/``; returns the
    new archive path. An existing file of the same name gets a ``.N`` suffix."""
    target_dir = os.path.join(os.path.dirname(path), CORRUPT_DIR)
    os.makedirs(target_dir, exist_ok=True)
    name = os.path.basename(path)
    target = os.path.join(target_dir, name)
    n = 1
    while os.path.exists(target):
        target = os.path.join(target_dir, f"{name}.{n}")
        n += 1
    os.replace(path, target)
    sidecar = sidecar_path(path)
    if os.path.exists(sidecar):
        os.replace(sidecar, target[:-len(".keras")] + ".json"
                   if target.endswith(".keras") else target + ".json")
    return target


def load_latest(workdir, compile=True, move_corrupt=True):
    """The newest checkpoint of ``workdir`` that loads: ``(model, state, path)``.

    Walks checkpoints newest first. Each one that fails to load is named in a
    warning and, with ``move_corrupt`` (pass False on non-chief workers), moved
    into ``checkpoints/corrupt/`` with its sidecar once a good one is found.

    Returns:
      ``(None, {}, None)`` when ``workdir`` holds no checkpoint.

    Raises:
      NoUsableCheckpointError: checkpoints exist but none loads; nothing is moved.
    """
    found = list_checkpoints(workdir)
    failed = []
    for _, path in reversed(found):
        try:
            model, state = load_checkpoint(path, compile=compile)
        except CheckpointError as e:
            logger.warning("skipping %s", e)
            failed.append(path)
            continue
        for bad in failed if move_corrupt else ():
            moved = move_aside(bad)
            logger.warning("moved the unloadable checkpoint %s to %s; resuming from %s.",
                           bad, moved, path)
        return model, state, path
    if failed:
        raise NoUsableCheckpointError(
            f"none of the {len(failed)} checkpoints in {checkpoint_dir(workdir)!r} loads "
            f"(newest: {os.path.basename(failed[0])}); nothing was changed: move them "
            f"aside to start afresh, or pass another --workdir.")
    return None, {}, None

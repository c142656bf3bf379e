"""Atomic, resumable checkpoints of a whole training run.

A checkpoint is one ``.keras`` archive (architecture config, weights, k, every
optimizer's state including its learning rate and iteration count) plus a JSON
sidecar with run state that is not a model variable (callback state, history).
Both are written to a temporary name and renamed into place, the sidecar first and
the archive last, so a reader that finds ``ckpt-<step>.keras`` always finds
complete files; a run killed mid-write leaves only ``*.tmp`` debris, which is
ignored and cleaned up.

Layout::

    <workdir>/checkpoints/ckpt-00001000.keras
    <workdir>/checkpoints/ckpt-00001000.json
"""

from __future__ import annotations

import glob
import json
import os
import re

import keras

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^ckpt-(\d+)\.keras$")


def checkpoint_dir(workdir):
    return os.path.join(workdir, CHECKPOINT_DIR)


def list_checkpoints(workdir):
    """``[(step, path)]`` of complete checkpoints, oldest first."""
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir(workdir), "ckpt-*.keras")):
        m = _NAME.match(os.path.basename(path))
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest_checkpoint(workdir):
    """Path of the newest complete checkpoint in ``workdir``, or None."""
    found = list_checkpoints(workdir)
    return found[-1][1] if found else None


def _atomic_write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(model, workdir, step, state=None, keep=3):
    """Writes ``ckpt-<step>.keras`` (+ ``.json`` with ``state``) atomically.

    Keeps the newest ``keep`` checkpoints and returns the archive's path.
    """
    directory = checkpoint_dir(workdir)
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, f"ckpt-{int(step):08d}")
    _atomic_write_json(base + ".json", {"step": int(step), **(state or {})})
    tmp = base + ".keras.tmp"
    # keras refuses names not ending in .keras, so write to a temporary folder.
    tmp_dir = tmp + ".d"
    os.makedirs(tmp_dir, exist_ok=True)
    tmp_file = os.path.join(tmp_dir, "model.keras")
    model.save(tmp_file)
    with open(tmp_file, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp_file, base + ".keras")
    os.rmdir(tmp_dir)
    for _, old in list_checkpoints(workdir)[:-keep] if keep else []:
        for p in (old, old[:-len(".keras")] + ".json"):
            if os.path.exists(p):
                os.remove(p)
    # Debris of an earlier run killed mid-write.
    for debris in glob.glob(os.path.join(directory, "*.tmp*")):
        _remove(debris)
    # A kill between the sidecar's rename and the archive's leaves a sidecar with
    # no archive; readers ignore it, pruning never sees it, so drop it here.
    for sidecar in glob.glob(os.path.join(directory, "ckpt-*.json")):
        if not os.path.exists(sidecar[:-len(".json")] + ".keras"):
            _remove(sidecar)
    return base + ".keras"


def _remove(path):
    if os.path.isdir(path):
        for f in os.listdir(path):
            os.remove(os.path.join(path, f))
        os.rmdir(path)
    elif os.path.exists(path):
        os.remove(path)


def load_checkpoint(path, compile=True):
    """Loads the model in ``path`` (weights, k, optimizers) and its sidecar state.

    Returns ``(model, state)``; ``state`` is ``{}`` when the sidecar is missing.
    """
    import tfbegan.models  # noqa: F401  registers the serializable classes

    model = keras.saving.load_model(path, compile=compile)
    sidecar = path[:-len(".keras")] + ".json"
    state = {}
    if os.path.exists(sidecar):
        with open(sidecar) as f:
            state = json.load(f)
    return model, state

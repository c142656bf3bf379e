"""A run's ``config.json``: written at the start, checked when the run resumes."""

from __future__ import annotations

import dataclasses
import json
import os

import tfbegan
from tfbegan import fileio
from tfbegan.training import checkpoints
from tfbegan.training.config import RESUMABLE_CHANGES, TrainConfig

CONFIG_FILE = "config.json"


def config_to_dict(config: TrainConfig) -> dict:
    """JSON-ready dict of a TrainConfig (nested DataConfig included)."""
    out = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        out[field.name] = value
    return json.loads(json.dumps(out))


def check_workdir(workdir):
    """Creates ``workdir`` if needed and proves it writable, touching nothing else."""
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, f".write_test_{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"workdir {workdir!r} is not writable ({e.strerror}); pass a "
                         f"writable --workdir.") from None


def read_config(workdir):
    """The dict saved in ``workdir``'s config.json, or None when there is none.

    Raises ValueError naming the file when it is not valid JSON.
    """
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        return None
    saved = fileio.read_json(path, what="config.json")
    if not isinstance(saved, dict):
        raise ValueError(f"config.json {path} does not hold a JSON object; fix or "
                         f"delete it.")
    return saved


def _as_stored(kwargs):
    """``kwargs`` as a model's ``get_config`` stores them: a distance spec in its
    canonical form (``"l2"`` is stored as ``"l2:1"``; the rerun of a run given
    ``--distance=l2`` was refused as a different run), and so a DiffAugment policy
    (``"color, cutout"`` is stored as ``"color,cutout"``)."""
    from tfbegan.losses.distances import canonical_distance_spec
    from tfbegan.models.augment import canonical_policy

    if kwargs.get("distance") is not None:
        kwargs = {**kwargs, "distance": canonical_distance_spec(kwargs["distance"])}
    if kwargs.get("augment"):
        kwargs = {**kwargs, "augment": canonical_policy(kwargs["augment"])}
    return kwargs


def checkpoint_differences(workdir, config):
    """``["checkpoint ckpt-N.keras: name: saved -> new, ..."]`` between the model the
    newest readable checkpoint was built with (its class and constructor settings,
    read from the ``.keras`` file's config) and ``config``'s; ``[]`` when they agree
    or no checkpoint is readable."""
    for _, path in reversed(checkpoints.list_checkpoints(workdir)):
        try:
            name, saved = checkpoints.model_settings(path)
        except checkpoints.CheckpointError:
            continue  # resume skips it too (checkpoints.load_latest)
        new = _as_stored(json.loads(json.dumps(config.model_kwargs)))
        diffs = [] if name == config.model else [f"model: {name!r} -> {config.model!r}"]
        diffs += [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in sorted(new.items())
                  if k in saved and saved[k] != v]
        return [f"checkpoint {os.path.basename(path)}: {', '.join(diffs)}"] if diffs else []
    return []


def config_differences(old, config):
    """``["name: old -> new", ...]`` for settings that may not change on resume.

    A setting missing from ``old`` (written before the setting existed) counts as
    its TrainConfig default; one missing from a nested config (``data``: e.g.
    ``channels``, ``resize``, ``background``, added later) counts as unchanged.
    """
    new = config_to_dict(config)
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)
                if f.default is not dataclasses.MISSING}
    diffs = []
    for k in new:
        was = old.get(k, defaults.get(k))
        if k in RESUMABLE_CHANGES or was == new[k]:
            continue
        if isinstance(was, dict) and isinstance(new[k], dict):
            # Only the entries that differ, so the refusal stays one readable line.
            diffs += [f"{k}.{sub}: {was[sub]!r} -> {value!r}"
                      for sub, value in sorted(new[k].items())
                      if sub in was and was[sub] != value]
        else:
            diffs.append(f"{k}: {was!r} -> {new[k]!r}")
    return diffs


def check_resume_compatible(workdir, config):
    """Raises ValueError when ``workdir`` holds a different run: settings in its
    config.json, or the model (class and settings) its newest checkpoint holds.

    A workdir without a checkpoint holds no run (a first run that failed on its data
    or before its first save): any command may start it afresh.
    """
    old = read_config(workdir)  # a config.json that does not parse is named here
    if not checkpoints.list_checkpoints(workdir):
        return
    # config.json says which settings the run had; the checkpoint says which model
    # it holds (a checkpoint copied in from another run, or config.json deleted):
    # both are checked, so a changed architecture is refused, not silently ignored.
    diffs = [] if old is None else config_differences(old, config)
    diffs += checkpoint_differences(workdir, config)
    if diffs:
        raise ValueError(f"workdir {workdir!r} holds a different run ({'; '.join(diffs)}); "
                         f"use a new --workdir or the original settings.")


def write_config(workdir, config):
    """Writes config.json atomically (a temporary file, then a rename)."""
    path = os.path.join(workdir, CONFIG_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({**config_to_dict(config), "tfbegan_version": tfbegan.__version__}, f,
                  indent=1, sort_keys=True)
    os.replace(tmp, path)

"""Generators -> SavedModels that TensorFlow Serving loads unchanged.

A trained model leaves tfbegan as its generator only (never the training wrapper,
its discriminator or optimizer state), written with ``keras.export.ExportArchive``
into ``<export_base>/<version>/``, the layout TensorFlow Serving polls: integer
version directories under one base path.

Signatures (named inputs, dict outputs, fixed dtypes; made by
:mod:`tfbegan.serving.signatures`, which checks every input in the graph):

* ``serving_default``: ``z`` float32 ``[batch, z_dim]``, batch in [0, max_batch] ->
  ``images`` uint8 ``[batch, H, W, C]`` (0..255) and ``images_float`` float32
  ``[batch, H, W, C]`` in [-1, 1].
* ``sample``: ``num`` int32 scalar in [1, max_batch], ``seed`` int64 scalar -> the
  same outputs for ``z ~ prior`` drawn with stateless random ops keyed by
  ``(seed, 0)``: exactly ``model.generate(num, seed=seed)`` (clipped), in every
  process.
* ``interpolate``: ``z_start``, ``z_end`` float32 ``[z_dim]``, ``steps`` int32
  scalar in [2, max(2, max_batch)] -> the same outputs for
  ``z_i = (1 - t_i) z_start + t_i z_end``, ``t_i = i / (steps - 1)`` (the linear
  latent interpolation of Berthelot et al. 2017, sec. 4.6).
* ``encode`` (only models with ``has_encoder``): ``images`` float32
  ``[batch, H, W, C]`` in [-1, 1], batch in [0, max_batch] -> ``z`` float32
  ``[batch, z_dim]``.

``max_batch`` (default 1024, at most 65536) is chosen at export and recorded in
``tfbegan.json``. A request of the wrong shape, rank or channel count, over the cap,
or with NaN or Inf in a float input fails with InvalidArgument naming the input (in
TensorFlow Serving as well) before the network runs.

The generator ends in a linear convolution (Berthelot et al. 2017, Figure 1), so its raw output
can leave [-1, 1]; ``images_float`` is ``clip(G(z), -1, 1)`` and
``images = round((images_float + 1) * 127.5)`` as uint8, the same mapping as
:func:`tfbegan.imaging.to_uint8`. The generator runs in inference mode
(``training=False``), which matters for batch-norm variants.

Extra files in ``assets.extra/`` (TensorFlow Serving reads the first, ignores the
rest): ``tf_serving_warmup_requests`` (a TFRecord of ``PredictionLog`` protos with
one ``PredictRequest`` for ``serving_default``) and ``tfbegan.json`` (model type,
image size, channels, z_dim, prior, training step, tfbegan version, limits).

Each export is written into a hidden temporary directory beside the version
directory and renamed into place when complete, so a polling server never sees a
half-written version; an existing version is never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfbegan import fileio
from tfbegan.models import priors
from tfbegan.serving import limits, signatures

#: File names inside ``assets.extra/``.
WARMUP_FILE = "tf_serving_warmup_requests"
CONFIG_FILE = "tfbegan.json"
#: Warm-up batch size: Serving replays the request once per model load so the first
#: user request does not pay for graph initialisation.
WARMUP_BATCH = 1

_VERSION = re.compile(r"^\d+$")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def existing_versions(export_base):
    """Sorted integer versions already under ``export_base`` (directories only)."""
    if not os.path.isdir(export_base):
        return []
    return sorted(int(n) for n in os.listdir(export_base)
                  if _VERSION.match(n) and os.path.isdir(os.path.join(export_base, n)))


def next_version(export_base):
    """``max(existing versions) + 1``, or 1 for an empty base."""
    versions = existing_versions(export_base)
    return versions[-1] + 1 if versions else 1


def check_export_base(export_base):
    """Checks, leaving nothing behind, that ``export_base`` can be written: by
    creating and removing a directory in its nearest existing parent.

    Meant to run before training starts, so a bad path fails in seconds rather than
    after the whole run. Accepts an existing writable directory, or a missing path
    whose nearest existing parent is a writable directory (it is created at export).

    Raises:
      ValueError: one line naming the path and the reason (a file in the way, no
        write permission, an immutable or read-only directory).
    """
    if not export_base:
        raise ValueError("export_base must be a directory path, got an empty string.")
    export_base = os.fspath(export_base)
    probe = os.path.abspath(export_base)
    # lexists: a dangling symlink in the way cannot be created over either.
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    reason = None
    if not os.path.isdir(probe):
        reason = (f"{probe!r} is a file" if probe != os.path.abspath(export_base)
                  else "it is a file")
    elif not os.access(probe, os.W_OK | os.X_OK):
        # os.access sees permission bits, read-only mounts and immutable flags.
        reason = f"no permission to write in {probe!r}"
    else:
        # os.access trusts permission bits: /proc, a read-only bind mount seen by
        # root or an immutable directory can still refuse a new entry.
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".tfbegan-probe-", dir=probe))
        except OSError as e:
            reason = f"cannot create a directory in {probe!r}: {e.strerror or e}"
    if reason:
        raise ValueError(f"export_base={export_base!r} is not a writable directory "
                         f"({reason}); pass another --export_base.")
    return export_base


def _export_bytes(model, export_base, partial=None):
    """About what one export needs: the newest version's size when there is one;
    else what was written before the failure plus the generator's float32 weights
    (a lower bound: the graph's size is known only once written)."""
    versions = existing_versions(export_base)
    if versions:
        return fileio.tree_bytes(os.path.join(export_base, str(versions[-1])))
    weights = sum(4 * int(np.prod(v.shape)) for v in model.sampling_generator.weights)
    return weights + (fileio.tree_bytes(partial) if partial else 0)


def model_metadata(model, step=None, extra_config=None,
                   max_batch=limits.DEFAULT_MAX_BATCH):
    """The JSON asset: what a client needs to know without tfbegan, the caps
    included (``max_batch``; ``max_num`` and ``max_steps``, the ``sample`` and
    ``interpolate`` caps it implies)."""
    import tfbegan

    meta = {
        "model_type": type(model).__name__,
        "image_size": int(model.image_size),
        "channels": int(model.channels),
        "z_dim": int(model.z_dim),
        "prior": model.prior,
        "step": None if step is None else int(step),
        "tfbegan_version": tfbegan.__version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "signatures": [s for s in signatures.SIGNATURES
                       if s != "encode" or getattr(model, "has_encoder", False)],
        "max_batch": int(max_batch),
        "max_num": int(max_batch),
        "max_steps": limits.steps_cap(max_batch),
        "model_config": json.loads(json.dumps(model.get_config(), default=str)),
    }
    if extra_config:
        meta.update(json.loads(json.dumps(extra_config, default=str)))
    return meta


def warmup_requests(model, model_name, batch=WARMUP_BATCH, seed=0):
    """Serialized ``PredictionLog`` records for ``assets.extra``.

    One ``PredictRequest`` for ``serving_default`` with ``batch`` latents from the
    model's prior (Serving replays each record when it loads a version).
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    z = priors.sample(model.prior, batch, int(model.z_dim), seed, 0).numpy()
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name,
                                       signature_name="serving_default"))
    request.inputs["z"].CopyFrom(tf.make_tensor_proto(z.astype(np.float32)))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    return [log.SerializeToString()]


def _write_assets_extra(directory, model, model_name, meta):
    extra = os.path.join(directory, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(extra, WARMUP_FILE)) as writer:
        for record in warmup_requests(model, model_name):
            writer.write(record)
    with open(os.path.join(extra, CONFIG_FILE), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def build_archive(model, max_batch=limits.DEFAULT_MAX_BATCH):
    """A ``keras.export.ExportArchive`` with one endpoint per signature.

    The archive saves exactly the variables the endpoints capture (the generator's,
    and an encoder's for ``encode``), never the training wrapper's. The model is not
    also passed to ``track()``: that stores every generator variable a second time
    (once as the Keras variable, once as the captured ``tf.Variable``), doubling the
    export, and Serving needs neither copy's Python attributes.
    """
    archive = keras.export.ExportArchive()
    functions = signatures.make_signature_functions(model, max_batch)
    for name, (fn, spec) in functions.items():
        archive.add_endpoint(name, fn, input_signature=spec)
    return archive


def export_generator(model, export_base, version=None, step=None, extra_config=None,
                     max_batch=limits.DEFAULT_MAX_BATCH):
    """Writes ``model``'s generator to ``<export_base>/<version>/`` for Serving.

    Args:
      model: a tfbegan model (``generator``, ``z_dim``, ``image_size``, ``channels``,
        ``prior``, ``has_encoder`` / ``encode``, ``get_config``).
      export_base: the model's base path (created if missing).
      version: positive int; default: the next integer after the existing ones.
      step: training step recorded in ``assets.extra/tfbegan.json``.
      extra_config: more JSON-serialisable keys for that file.
      max_batch: the cap on one request's batch in every signature (``z`` and
        ``images`` rows, ``num``, ``steps``), an integer in [1, 65536], checked in
        the graph and recorded in ``tfbegan.json``.

    Returns:
      The path of the new version directory.

    Raises:
      ValueError: bad version or max_batch, existing version, unwritable
        export_base, or a generator with NaN/Inf weights (whose samples would be
        NaN floats and black images); all checked before anything is written.
      tfbegan.fileio.DiskFullError: the disk filled up (one line naming the
        path and the bytes needed); no partial version directory is left.
    """
    export_base = os.fspath(export_base)
    max_batch = limits.check_max_batch(max_batch)
    if version is not None and (isinstance(version, bool) or not isinstance(
            version, (int, np.integer)) or version < 1):
        raise ValueError(f"version={version!r} must be a positive integer.")
    check_export_base(export_base)
    bad = [w.path for w in model.sampling_generator.weights
           if not np.all(np.isfinite(np.asarray(w)))]
    if bad:
        raise ValueError(f"refusing to export: {len(bad)} generator weights hold NaN or "
                         f"Inf (first: {bad[0]}); export an earlier checkpoint.")
    with fileio.disk_full_guard(export_base, lambda: _export_bytes(model, export_base)):
        os.makedirs(export_base, exist_ok=True)
    version = next_version(export_base) if version is None else int(version)
    final = os.path.join(export_base, str(version))
    if os.path.exists(final):
        raise ValueError(f"version {version} already exists at {final!r}; versions "
                         f"are never overwritten (pick another --version or omit it).")
    meta = model_metadata(model, step, extra_config, max_batch)
    meta["version"] = version
    model_name = os.path.basename(os.path.normpath(os.path.abspath(export_base)))
    # A non-integer hidden name: Serving only loads directories named by integers.
    with fileio.disk_full_guard(final, lambda: _export_bytes(model, export_base)):
        tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=export_base)
    with fileio.disk_full_guard(final, lambda: _export_bytes(model, export_base, tmp),
                                cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True)):
        # mkdtemp makes the directory private (0700); a model server running as
        # another user must be able to read the version it becomes.
        os.chmod(tmp, 0o777 & ~_umask())
        build_archive(model, max_batch).write_out(tmp, verbose=False)
        _write_assets_extra(tmp, model, model_name, meta)
        if os.path.exists(final):  # another writer got there first
            raise ValueError(f"version {version} appeared at {final!r} during export.")
        os.rename(tmp, final)
    return final


def load_generator_from_workdir(workdir):
    """``(model, state)`` from the newest loadable checkpoint of a ``tfbegan-train`` run.

    A newer checkpoint that does not load is skipped with a warning (and left where
    it is: exporting never moves a run's files).

    Raises:
      FileNotFoundError: ``workdir`` holds no complete checkpoint.
      tfbegan.training.checkpoints.NoUsableCheckpointError: none of them loads.
    """
    from tfbegan.training import checkpoints

    model, state, path = checkpoints.load_latest(workdir, compile=False,
                                                 move_corrupt=False)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {checkpoints.checkpoint_dir(workdir)!r} "
                                f"(expected ckpt-<step>.keras from tfbegan-train).")
    return model, state


def export_from_workdir(workdir, export_base, version=None,
                        max_batch=limits.DEFAULT_MAX_BATCH):
    """Exports the newest checkpoint of ``workdir``; returns the version directory."""
    max_batch = limits.check_max_batch(max_batch)
    model, state = load_generator_from_workdir(workdir)
    return export_generator(model, export_base, version=version, step=state.get("step"),
                            extra_config={"workdir": os.path.abspath(workdir)},
                            max_batch=max_batch)


def read_metadata(export_dir):
    """The ``assets.extra/tfbegan.json`` of an export, or ``{}`` if absent.

    Raises ValueError naming the file when it is not a JSON object."""
    path = os.path.join(export_dir, "assets.extra", CONFIG_FILE)
    if not os.path.exists(path):
        return {}
    meta = fileio.read_json(path, what=CONFIG_FILE)
    if not isinstance(meta, dict):
        raise ValueError(f"{CONFIG_FILE} {path} does not hold a JSON object; re-export.")
    return meta


def resolve_export_dir(path):
    """``path`` if it holds a SavedModel, else its newest integer version."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = existing_versions(path)
    if versions:
        return os.path.join(path, str(versions[-1]))
    raise FileNotFoundError(f"no SavedModel in {path!r} (neither saved_model.pb nor "
                            f"integer version directories).")

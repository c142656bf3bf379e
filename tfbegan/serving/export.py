"""Generators -> SavedModels that TensorFlow Serving loads unchanged.

A trained model leaves tfbegan as its generator only (never the training wrapper,
its discriminator or optimizer state), written with ``keras.export.ExportArchive``
into ``<export_base>/<version>/``, the layout TensorFlow Serving polls: integer
version directories under one base path.

Signatures (named inputs, dict outputs, fixed dtypes):

* ``serving_default``: ``z`` float32 ``[batch, z_dim]`` ->
  ``images`` uint8 ``[batch, H, W, C]`` (0..255) and ``images_float`` float32
  ``[batch, H, W, C]`` in [-1, 1].
* ``sample``: ``num`` int32 scalar in [1, MAX_NUM], ``seed`` int64 scalar -> the
  same outputs for ``z ~ prior`` drawn with stateless random ops keyed by
  ``(seed, 0)``: exactly ``model.generate(num, seed=seed)`` (clipped), in every
  process.
* ``interpolate``: ``z_start``, ``z_end`` float32 ``[z_dim]``, ``steps`` int32
  scalar in [2, MAX_STEPS] -> the same outputs for
  ``z_i = (1 - t_i) z_start + t_i z_end``, ``t_i = i / (steps - 1)`` (the linear
  latent interpolation of BEGAN sec. 4.6).
* ``encode`` (only models with ``has_encoder``): ``images`` float32
  ``[batch, H, W, C]`` in [-1, 1] -> ``z`` float32 ``[batch, z_dim]``.

Every float input (``z``, ``z_start``, ``z_end``, ``images``) is checked in the graph
for NaN and Inf: such a request fails with InvalidArgument naming the input (in
TensorFlow Serving as well) instead of returning all-black images.

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

#: Largest ``num`` the ``sample`` signature accepts (bounds one request's memory).
MAX_NUM = 1024
#: Largest ``steps`` the ``interpolate`` signature accepts.
MAX_STEPS = 1024
#: File names inside ``assets.extra/``.
WARMUP_FILE = "tf_serving_warmup_requests"
CONFIG_FILE = "tfbegan.json"
#: Signature names, ``serving_default`` first (ExportArchive makes the first
#: endpoint the default; naming it so keeps the alias explicit).
SIGNATURES = ("serving_default", "sample", "interpolate", "encode")
#: Warm-up batch size: Serving replays the request once per model load so the first
#: user request does not pay for graph initialisation.
WARMUP_BATCH = 1

_VERSION = re.compile(r"^\d+$")


def _postprocess(x):
    """G(z) -> ``{"images": uint8, "images_float": clip(G(z), -1, 1)}``."""
    images_float = tf.clip_by_value(tf.cast(x, tf.float32), -1.0, 1.0)
    # tf.round rounds half to even, like np.rint in imaging.to_uint8.
    images = tf.cast(tf.round((images_float + 1.0) * 127.5), tf.uint8)
    return {"images": images, "images_float": images_float}


def _in_range(value, low, high, name):
    """``value`` after graph asserts ``low <= value <= high`` (InvalidArgument)."""
    message = f"{name} must be in [{low}, {high}]"
    checks = [
        tf.debugging.assert_greater_equal(value, tf.cast(low, value.dtype),
                                          message=message),
        tf.debugging.assert_less_equal(value, tf.cast(high, value.dtype),
                                       message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(value)


def _finite(value, name):
    """``value`` after a graph check that it holds no NaN or Inf (InvalidArgument).

    A NaN latent would otherwise come back as an all-black uint8 image (NaN casts to
    0) that a client cannot tell from a real one; the check is an op in the graph,
    so TF Serving rejects the request too, naming the input.
    """
    return tf.debugging.assert_all_finite(value, message=f"{name} must be finite "
                                                         f"(no NaN or Inf)")


def make_signature_functions(model):
    """The serving functions of ``model`` and their input signatures.

    Returns ``{name: (fn, [tf.TensorSpec, ...])}`` in signature order. The functions
    are plain Python (ExportArchive traces them without autograph), so they hold no
    Python control flow on tensors; range checks are graph asserts.
    """
    generator = model.sampling_generator
    z_dim = int(model.z_dim)
    size, channels = int(model.image_size), int(model.channels)
    prior = model.prior

    def generate(z):
        return _postprocess(generator(z, training=False))

    def serving_default(z):
        # A runtime check as well as the placeholder's static shape: a C++ client
        # (Serving) feeds tensors without the Python-side shape check.
        z = tf.ensure_shape(z, [None, z_dim])
        return generate(_finite(z, "z"))

    def sample(num, seed):
        num = _in_range(num, 1, MAX_NUM, "num")
        # model.sample_z is what model.generate(num, seed=seed) draws from.
        if hasattr(model, "sample_z"):
            z = model.sample_z(num, seed, 0)
        else:
            z = priors.sample(prior, num, z_dim, seed, 0)
        return generate(z)

    def interpolate(z_start, z_end, steps):
        steps = _in_range(steps, 2, MAX_STEPS, "steps")
        z_start, z_end = _finite(z_start, "z_start"), _finite(z_end, "z_end")
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        # (1 - t) a + t b hits both end points exactly (a + t (b - a) may not).
        z = (1.0 - t) * z_start[None, :] + t * z_end[None, :]
        return generate(z)

    def encode(images):
        return {"z": tf.cast(model.encode(_finite(images, "images")), tf.float32)}

    z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
    functions = {
        "serving_default": (serving_default, [z_spec]),
        "sample": (sample, [tf.TensorSpec([], tf.int32, name="num"),
                            tf.TensorSpec([], tf.int64, name="seed")]),
        "interpolate": (interpolate, [tf.TensorSpec([z_dim], tf.float32, name="z_start"),
                                      tf.TensorSpec([z_dim], tf.float32, name="z_end"),
                                      tf.TensorSpec([], tf.int32, name="steps")]),
    }
    if getattr(model, "has_encoder", False):
        functions["encode"] = (encode, [tf.TensorSpec([None, size, size, channels],
                                                      tf.float32, name="images")])
    return functions


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
    """Checks, without creating anything, that ``export_base`` can be written.

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


def model_metadata(model, step=None, extra_config=None):
    """The JSON asset: what a client needs to know without tfbegan."""
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
        "signatures": [s for s in SIGNATURES
                       if s != "encode" or getattr(model, "has_encoder", False)],
        "max_num": MAX_NUM,
        "max_steps": MAX_STEPS,
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


def build_archive(model):
    """A ``keras.export.ExportArchive`` with one endpoint per signature.

    The archive saves exactly the variables the endpoints capture (the generator's,
    and an encoder's for ``encode``), never the training wrapper's. The model is not
    also passed to ``track()``: that stores every generator variable a second time
    (once as the Keras variable, once as the captured ``tf.Variable``), doubling the
    export, and Serving needs neither copy's Python attributes.
    """
    archive = keras.export.ExportArchive()
    for name, (fn, spec) in make_signature_functions(model).items():
        archive.add_endpoint(name, fn, input_signature=spec)
    return archive


def export_generator(model, export_base, version=None, step=None, extra_config=None):
    """Writes ``model``'s generator to ``<export_base>/<version>/`` for Serving.

    Args:
      model: a tfbegan model (``generator``, ``z_dim``, ``image_size``, ``channels``,
        ``prior``, ``has_encoder`` / ``encode``, ``get_config``).
      export_base: the model's base path (created if missing).
      version: positive int; default: the next integer after the existing ones.
      step: training step recorded in ``assets.extra/tfbegan.json``.
      extra_config: more JSON-serialisable keys for that file.

    Returns:
      The path of the new version directory.

    Raises:
      ValueError: bad version, existing version or unwritable export_base.
      tfbegan.fileio.DiskFullError: the disk filled up (one line naming the
        path and the bytes needed); no partial version directory is left.
    """
    export_base = os.fspath(export_base)
    if version is not None and (isinstance(version, bool) or not isinstance(
            version, (int, np.integer)) or version < 1):
        raise ValueError(f"version={version!r} must be a positive integer.")
    check_export_base(export_base)
    with fileio.disk_full_guard(export_base, lambda: _export_bytes(model, export_base)):
        os.makedirs(export_base, exist_ok=True)
    version = next_version(export_base) if version is None else int(version)
    final = os.path.join(export_base, str(version))
    if os.path.exists(final):
        raise ValueError(f"version {version} already exists at {final!r}; versions "
                         f"are never overwritten (pick another --version or omit it).")
    meta = model_metadata(model, step, extra_config)
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
        build_archive(model).write_out(tmp, verbose=False)
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


def export_from_workdir(workdir, export_base, version=None):
    """Exports the newest checkpoint of ``workdir``; returns the version directory."""
    model, state = load_generator_from_workdir(workdir)
    return export_generator(model, export_base, version=version, step=state.get("step"),
                            extra_config={"workdir": os.path.abspath(workdir)})


def read_metadata(export_dir):
    """The ``assets.extra/tfbegan.json`` of an export, or ``{}`` if absent."""
    path = os.path.join(export_dir, "assets.extra", CONFIG_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def resolve_export_dir(path):
    """``path`` if it holds a SavedModel, else its newest integer version."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = existing_versions(path)
    if versions:
        return os.path.join(path, str(versions[-1]))
    raise FileNotFoundError(f"no SavedModel in {path!r} (neither saved_model.pb nor "
                            f"integer version directories).")

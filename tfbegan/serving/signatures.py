"""The serving signatures of an export and the checks each runs inside the graph.

:func:`make_signature_functions` returns the plain Python functions that
``keras.export.ExportArchive`` traces (without autograph: no Python control flow on
tensors) into the four signatures described in :mod:`tfbegan.serving.export`.

Every input is checked by ops in the graph, upstream of the network, so TensorFlow
Serving (whose C++ server feeds tensors without the Python-side check against the
placeholder's static shape) rejects a bad request with InvalidArgument naming the
input instead of running kernels on it:

* shape and rank: the runtime shape against the signature's (``images must have
  shape [batch, 16, 16, 1], got [2,16,16]``), then ``tf.ensure_shape``. A wrong rank
  used to abort the whole server process (a ``Check failed`` in oneDNN's
  convolution) and a wrong channel count was encoded silently. The placeholder's
  static shape cannot do this: the graph trusts it, a fed tensor need not match it.
* batch: at most ``max_batch`` rows (chosen at export, default 1024; see
  :mod:`tfbegan.serving.limits`) for ``z`` and ``images``, ``num`` in
  [1, max_batch] and ``steps`` in [2, max(2, max_batch)], so one request cannot
  take the server's memory.
* values: ``z``, ``z_start``, ``z_end`` and ``images`` must be finite (a NaN latent
  otherwise comes back as an all-black image).

A wrong dtype never reaches the graph: the runtime refuses the argument with
InvalidArgument before any op runs (``Expects arg[0] to be float but double is
provided``), by position, not by name.

An empty batch (``z`` or ``images`` with 0 rows) is valid and answers 0 rows: it is
padded to one row for the network and sliced back, because oneDNN's convolutions
return a wrong channel count on a 0-row batch (or fail); the outputs also carry
``tf.ensure_shape`` so their shapes are those the signature documents.
"""

from __future__ import annotations

import tensorflow as tf

from tfbegan.models import priors
from tfbegan.serving.limits import DEFAULT_MAX_BATCH, check_max_batch, steps_cap

#: Signature names, ``serving_default`` first (ExportArchive makes the first
#: endpoint the default; naming it so keeps the alias explicit).
SIGNATURES = ("serving_default", "sample", "interpolate", "encode")


def _assert(condition, value, message):
    """A graph ``Assert(condition)`` failing with the one line ``message``, a
    ``tf.strings.format`` template whose ``{}`` is ``value`` at run time."""
    return tf.debugging.Assert(condition, [tf.strings.format(message, value)])


def _opaque(value):
    """``value`` with a shape the graph cannot know before it runs.

    Grappler replaces ``Shape(x)`` by a constant when ``x``'s static shape (the
    placeholder's, for a fully defined input spec such as ``num`` or ``z_start``) is
    fully defined, which would fold a check on it to "passed" whatever is fed. A
    serialize / parse round trip (a few bytes for these inputs) hides the shape.
    """
    return tf.raw_ops.ParseTensor(serialized=tf.io.serialize_tensor(value),
                                  out_type=value.dtype)


def _shaped(value, shape, name):
    """``value`` after checks that its shape is ``shape`` (``None``: any size).

    The first check compares the runtime shape, as a string, with a pattern, so
    every rank is handled by one op and the failure is one line naming the input
    and the expected shape (``images must have shape [batch, 16, 16, 1], got
    [2,16,16]``). ``tf.ensure_shape`` runs after it, as the guard the network's
    input comes through (its own message names the graph's argument, such as
    ``_arg_encode_images_0_0`` in a TF1 session, not the input).
    """
    runtime = tf.shape(_opaque(value) if None not in shape else value)
    dims = tf.strings.reduce_join(tf.strings.as_string(runtime), separator=",")
    pattern = ",".join(r"\d+" if d is None else str(d) for d in shape)
    expected = ", ".join("batch" if d is None else str(d) for d in shape)
    message = tf.strings.join([f"{name} must have shape [{expected}], got [", dims, "]"])
    check = tf.debugging.Assert(tf.strings.regex_full_match(dims, pattern), [message])
    with tf.control_dependencies([check]):
        return tf.ensure_shape(value, shape)


def _in_range(value, low, high, name):
    """Scalar ``value`` after checks that it is a scalar in [low, high]."""
    value = _shaped(value, [], name)
    low_t, high_t = tf.cast(low, value.dtype), tf.cast(high, value.dtype)
    check = _assert(tf.logical_and(value >= low_t, value <= high_t), value,
                    f"{name} must be in [{low}, {high}] (max_batch), got {{}}")
    with tf.control_dependencies([check]):
        return tf.identity(value)


def _batch(value, shape, name, max_batch):
    """``value`` after checks of its shape (``[batch] + shape``: rank and every fixed
    dimension) and of its batch (at most ``max_batch`` rows)."""
    value = _shaped(value, [None] + list(shape), name)
    rows = tf.shape(value)[0]
    check = _assert(rows <= max_batch, rows,
                    f"{name} batch must be at most {max_batch} (max_batch), got {{}}")
    with tf.control_dependencies([check]):
        return tf.identity(value)


def _finite(value, name):
    """``value`` after a graph check that it holds no NaN or Inf (InvalidArgument).

    A NaN latent would otherwise come back as an all-black uint8 image (NaN casts to
    0) that a client cannot tell from a real one.
    """
    return tf.debugging.assert_all_finite(value, message=f"{name} must be finite "
                                                         f"(no NaN or Inf)")


def _rows(fn, x, out_shape):
    """``fn(x)`` for a batch of any size, 0 included: a 0-row ``x`` is padded to one
    zero row for ``fn`` and the output sliced back to ``x``'s rows. Each output gets
    ``tf.ensure_shape([None] + out_shape)``."""
    rows = tf.shape(x)[0]
    padding = [[0, tf.maximum(1 - rows, 0)]] + [[0, 0]] * (x.shape.rank - 1)
    out = fn(tf.pad(x, padding))
    return tf.ensure_shape(out[:rows], [None] + list(out_shape))


def _postprocess(x):
    """G(z) -> ``{"images": uint8, "images_float": clip(G(z), -1, 1)}``."""
    images_float = tf.clip_by_value(tf.cast(x, tf.float32), -1.0, 1.0)
    # tf.round rounds half to even, like np.rint in imaging.to_uint8.
    images = tf.cast(tf.round((images_float + 1.0) * 127.5), tf.uint8)
    return {"images": images, "images_float": images_float}


def _input_specs(z_dim, size, channels, has_encoder):
    specs = {
        "serving_default": [tf.TensorSpec([None, z_dim], tf.float32, name="z")],
        "sample": [tf.TensorSpec([], tf.int32, name="num"),
                   tf.TensorSpec([], tf.int64, name="seed")],
        "interpolate": [tf.TensorSpec([z_dim], tf.float32, name="z_start"),
                        tf.TensorSpec([z_dim], tf.float32, name="z_end"),
                        tf.TensorSpec([], tf.int32, name="steps")],
    }
    if has_encoder:
        specs["encode"] = [tf.TensorSpec([None, size, size, channels], tf.float32,
                                         name="images")]
    return specs


def make_signature_functions(model, max_batch=DEFAULT_MAX_BATCH):
    """The serving functions of ``model`` and their input signatures.

    Returns ``{name: (fn, [tf.TensorSpec, ...])}`` in signature order, each function
    checking its inputs as the module docstring says (``max_batch`` caps every
    signature's batch) before the network runs.
    """
    max_batch = check_max_batch(max_batch)
    generator = model.sampling_generator
    z_dim = int(model.z_dim)
    size, channels = int(model.image_size), int(model.channels)
    image_shape = [size, size, channels]

    def generate(z):
        return _postprocess(generator(z, training=False))

    def serving_default(z):
        z = _finite(_batch(z, [z_dim], "z", max_batch), "z")
        return _postprocess(_rows(lambda x: generator(x, training=False), z, image_shape))

    def sample(num, seed):
        num = _in_range(num, 1, max_batch, "num")
        seed = _shaped(seed, [], "seed")
        # model.sample_z is what model.generate(num, seed=seed) draws from.
        if hasattr(model, "sample_z"):
            z = model.sample_z(num, seed, 0)
        else:
            z = priors.sample(model.prior, num, z_dim, seed, 0)
        return generate(z)

    def interpolate(z_start, z_end, steps):
        steps = _in_range(steps, 2, steps_cap(max_batch), "steps")
        z_start = _finite(_shaped(z_start, [z_dim], "z_start"), "z_start")
        z_end = _finite(_shaped(z_end, [z_dim], "z_end"), "z_end")
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        # (1 - t) a + t b hits both end points exactly (a + t (b - a) may not).
        z = (1.0 - t) * z_start[None, :] + t * z_end[None, :]
        return generate(z)

    def encode(images):
        images = _finite(_batch(images, image_shape, "images", max_batch), "images")
        z = _rows(lambda x: tf.cast(model.encode(x), tf.float32), images, [z_dim])
        return {"z": z}

    bodies = {"serving_default": serving_default, "sample": sample,
              "interpolate": interpolate, "encode": encode}
    specs = _input_specs(z_dim, size, channels, getattr(model, "has_encoder", False))
    return {name: (bodies[name], spec) for name, spec in specs.items()}

"""One way to call a generator, whatever holds it: a Keras model, a tfbegan model, a
loaded SavedModel written by ``tfbegan.serving.export`` or a plain callable.

:func:`as_generator_fn` normalises any of them into ``z -> float32 images in [-1, 1]``
(what the z-inversion of Berthelot et al. 2017, sec. 4.3, and the quality reports
need); :func:`load_generator` opens one from an export or a training checkpoint;
:func:`signature_input` reads the input of a SavedModel signature or concrete function
(used for encoders too, by ``tfbegan.serving.attributes``). Gradients flow through restored
SavedModel signatures, so z-inversion works on exported models without the training
code.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

#: Output key of the exported signatures holding float images in [-1, 1].
FLOAT_OUTPUT = "images_float"


def signature_input(fn):
    """``(keyword or None, TensorSpec)`` of a one-input concrete function, else None.

    Signatures of loaded SavedModels take keywords only (the keyword is returned); a
    concrete function of a ``tf.function`` takes its argument positionally (None).
    """
    spec = getattr(fn, "structured_input_signature", None)
    if not spec:
        return None
    args, kwargs = spec
    if not args and len(kwargs) == 1:
        (name, tensor_spec), = kwargs.items()
        return name, tensor_spec
    if len(args) == 1 and not kwargs and isinstance(args[0], tf.TensorSpec):
        return None, args[0]
    return None


def _float_output(out):
    """A signature's dict output reduced to its ``images_float`` (or only float)
    entry, as float32."""
    if isinstance(out, dict):
        if FLOAT_OUTPUT in out:
            out = out[FLOAT_OUTPUT]
        else:
            floats = [v for v in out.values() if v.dtype.is_floating]
            if len(floats) != 1:
                raise ValueError(f"generator output has keys {sorted(out)}; expected "
                                 f"{FLOAT_OUTPUT!r} or exactly one float tensor.")
            out = floats[0]
    return tf.cast(out, tf.float32)


def _serving_default(generator):
    """A loaded SavedModel's ``serving_default`` signature; other objects unchanged."""
    signatures = getattr(generator, "signatures", None)
    if signatures is None:
        return generator
    if "serving_default" in signatures:
        return signatures["serving_default"]
    if not callable(generator):
        raise ValueError("the SavedModel has no serving_default signature; found "
                         f"{sorted(signatures)}.")
    return generator


def as_generator_fn(generator):
    """Normalises ``generator`` into ``(fn, z_dim)`` with ``fn(z) -> float images``.

    Accepts a ``keras.Model`` (called with ``training=False``), an object with a
    ``generator`` attribute that is a Keras model (a tfbegan model: its
    ``sampling_generator``, the EMA shadow when it keeps one), a loaded
    SavedModel (uses ``signatures["serving_default"]``), a signature/concrete
    function taking one tensor, or any callable. Dict outputs are reduced to their
    ``images_float`` entry (or their only float entry). ``z_dim`` is read from the
    input signature when one is known, else None.
    """
    if not isinstance(generator, keras.Model) and isinstance(
            getattr(generator, "generator", None), keras.Model):
        generator = getattr(generator, "sampling_generator", generator.generator)
    if isinstance(generator, keras.Model):
        return (lambda z: generator(z, training=False)), generator.input_shape[-1]
    generator = _serving_default(generator)
    if not callable(generator):
        raise ValueError(f"generator={generator!r} is not callable.")
    sig = signature_input(generator)
    z_dim, call = None, generator
    if sig is not None:
        name, spec = sig
        z_dim = spec.shape[-1] if spec.shape.rank else None
        if name is not None:
            def call(z):
                return generator(**{name: z})
    return (lambda z: _float_output(call(z))), z_dim


def generate(generator, z, batch_size=64):
    """``G(z)`` in batches as a float32 numpy array (images in [-1, 1])."""
    fn, _ = as_generator_fn(generator)
    z = np.asarray(z, np.float32)
    outs = [np.asarray(fn(tf.constant(z[i:i + batch_size])))
            for i in range(0, len(z), batch_size)]
    return np.concatenate(outs, axis=0)


def load_saved_model(path):
    """``tf.saved_model.load(path)``; a SavedModel that does not load (a truncated or
    overwritten ``variables/variables.data-*``, a damaged ``saved_model.pb``) raises
    ValueError, one line naming ``path`` and TensorFlow's reason."""
    try:
        return tf.saved_model.load(path)
    except Exception as e:  # IndexError, OpError, DecodeError...: all mean unusable
        text = str(e).strip().splitlines()
        reason = text[0][:200] if text else type(e).__name__
        raise ValueError(f"SavedModel {path!r} does not load ({type(e).__name__}: "
                         f"{reason}); re-export it.") from None


def check_z_dim(meta, fn, path):
    """``z_dim`` from the export's ``tfbegan.json`` after checking it against the
    signature ``fn``'s latent input (ValueError naming the file when they differ)."""
    sig = signature_input(fn)
    spec = sig[1] if sig is not None else None
    if spec is None:
        args = getattr(fn, "structured_input_signature", (None, {}))[1] or {}
        spec = args.get("z_start")
    taken = int(spec.shape[-1]) if spec is not None and spec.shape.rank else None
    z_dim = meta.get("z_dim") or taken
    if taken is not None and z_dim != taken:
        raise ValueError(f"tfbegan.json of {path!r} says z_dim={z_dim!r}, but its "
                         f"signatures take z of size {taken}; re-export it.")
    return int(z_dim)


def _from_checkpoint(checkpoint):
    from tfbegan.training import checkpoints

    path = os.fspath(checkpoint)
    if os.path.isdir(path):
        # Newest first, past any that does not load (left in place), as tfbegan-export.
        model, state, found = checkpoints.load_latest(path, compile=False,
                                                      move_corrupt=False)
        if found is None:
            raise FileNotFoundError(f"no checkpoint under {path!r} (expected "
                                    f"checkpoints/ckpt-<step>.keras).")
        path = found
    elif not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist.")
    else:
        model, state = checkpoints.load_checkpoint(path, compile=False)
    info = {"image_size": int(model.image_size), "channels": int(model.channels),
            "z_dim": int(model.z_dim), "prior": getattr(model, "prior", "uniform"),
            "step": state.get("step"), "source": os.path.abspath(path)}
    return model.sampling_generator, info


def _from_export(export_dir):
    from tfbegan.serving import export as export_lib

    if not os.path.isdir(export_dir):
        raise FileNotFoundError(f"export_dir={export_dir!r} is not a directory.")
    path = export_lib.resolve_export_dir(export_dir)
    meta = export_lib.read_metadata(path)  # before the load: a bad file fails fast
    loaded = load_saved_model(path)
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path!r} has no serving_default signature.")
    fn, _ = as_generator_fn(loaded)
    z_dim = check_z_dim(meta, loaded.signatures["serving_default"], path)
    probe = None
    if not meta.get("image_size") or not meta.get("channels"):
        probe = fn(tf.zeros([1, z_dim]))
    info = {"image_size": int(meta.get("image_size") or probe.shape[1]),
            "channels": int(meta.get("channels") or probe.shape[-1]),
            "z_dim": z_dim, "prior": meta.get("prior", "uniform"),
            "step": meta.get("step"), "source": os.path.abspath(path)}
    # The loaded object, not its signature: it owns the variables the signature
    # captures; as_generator_fn picks serving_default from it.
    return loaded, info


def load_generator(export_dir=None, checkpoint=None):
    """A generator to invert or evaluate, from an export or a training checkpoint.

    Args:
      export_dir: a SavedModel written by ``tfbegan.serving.export`` (a version directory,
        or a model base path whose newest version is used). Loaded with
        ``tf.saved_model.load``; its ``serving_default`` signature is the
        generator.
      checkpoint: a ``ckpt-<step>.keras`` archive or a ``tfbegan-train`` workdir
        (its newest checkpoint).

    Returns:
      ``(generator, info)``: ``info`` has ``image_size``, ``channels``, ``z_dim``,
      ``prior``, ``step`` and ``source`` (the resolved path).
    """
    if bool(export_dir) == bool(checkpoint):
        raise ValueError("pass exactly one of export_dir (a SavedModel) and checkpoint "
                         "(a .keras checkpoint or a training workdir).")
    if checkpoint:
        return _from_checkpoint(checkpoint)
    return _from_export(export_dir)

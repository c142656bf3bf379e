"""Latent-space tools: z-inversion of real images and interpolation (BEGAN sec. 4.3).

BEGAN Berthelot et al. 2017, section 4.3 ("Space continuity") maps a real image ``x_r`` to a
latent ``z_r`` by minimising ``e_r = |x_r - G(z_r)|`` with Adam, then decodes a
linear interpolation between the ``z_r`` of two real images (Figure 4c: the real
images in the first and last columns, their reconstructions ``G(z_r)`` next to them,
the interpolation in between). :func:`invert`, :func:`interpolate` and
:func:`figure4_rows` compute exactly that; ``tfbegan-invert`` writes the grid.

``generator`` may be a Keras model (``model.generator``), a BEGAN-like model with a
``generator`` attribute, a loaded SavedModel (its ``serving_default`` signature is
used) or any callable ``z -> images`` (for example ``loaded.signatures[...]``); a
callable returning a dict contributes its ``images_float`` entry (the float32
output of ``tfbegan.export``). Gradients flow through restored SavedModel
signatures (checked in ``tests/test_latent.py`` on an ``ExportArchive`` export), so
inversion works on exported models without the training code.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfbegan import priors

#: Output key of the exported signatures holding float images in [-1, 1].
FLOAT_OUTPUT = "images_float"


# ---------------------------------------------------------------------- generators
def _signature_input(fn):
    """``(name, TensorSpec)`` of a single-input concrete function called by keyword,
    or None when ``fn`` is not such a function."""
    spec = getattr(fn, "structured_input_signature", None)
    if not spec:
        return None
    args, kwargs = spec
    if args or len(kwargs) != 1:
        return None
    (name, tensor_spec), = kwargs.items()
    return name, tensor_spec


def as_generator_fn(generator):
    """Normalises ``generator`` into ``(fn, z_dim)`` with ``fn(z) -> float images``.

    Accepts a ``keras.Model`` (called with ``training=False``), an object with a
    ``generator`` attribute that is a Keras model (a tfbegan model), a loaded
    SavedModel (uses ``signatures["serving_default"]``), a signature/concrete
    function taking one keyword tensor, or any callable. Dict outputs are reduced
    to their ``images_float`` entry (or their only float entry). ``z_dim`` is read
    from the input signature when one is known, else None.
    """
    if not isinstance(generator, keras.Model) and isinstance(
            getattr(generator, "generator", None), keras.Model):
        generator = generator.generator
    if isinstance(generator, keras.Model):
        z_dim = generator.input_shape[-1]

        def keras_fn(z):
            return generator(z, training=False)
        return keras_fn, z_dim
    signatures = getattr(generator, "signatures", None)
    if signatures is not None and not callable(generator):
        if "serving_default" not in signatures:
            raise ValueError("the SavedModel has no serving_default signature; "
                             f"found {sorted(signatures)}.")
        generator = signatures["serving_default"]
    elif signatures is not None and "serving_default" in signatures:
        generator = signatures["serving_default"]
    if not callable(generator):
        raise ValueError(f"generator={generator!r} is not callable.")
    sig = _signature_input(generator)
    z_dim = None
    if sig is not None:
        name, spec = sig
        z_dim = spec.shape[-1] if spec.shape.rank else None

        def call(z):
            return generator(**{name: z})
    else:
        call = generator

    def fn(z):
        out = call(z)
        if isinstance(out, dict):
            if FLOAT_OUTPUT in out:
                out = out[FLOAT_OUTPUT]
            else:
                floats = [v for v in out.values() if v.dtype.is_floating]
                if len(floats) != 1:
                    raise ValueError(
                        f"generator output has keys {sorted(out)}; expected "
                        f"{FLOAT_OUTPUT!r} or exactly one float tensor.")
                out = floats[0]
        return tf.cast(out, tf.float32)
    return fn, z_dim


def generate(generator, z, batch_size=64):
    """``G(z)`` in batches as a float32 numpy array (images in [-1, 1])."""
    fn, _ = as_generator_fn(generator)
    z = np.asarray(z, np.float32)
    outs = [np.asarray(fn(tf.constant(z[i:i + batch_size])))
            for i in range(0, len(z), batch_size)]
    return np.concatenate(outs, axis=0)


# ---------------------------------------------------------------------- inversion
def _project(z, prior):
    """Keeps z in the prior's support: U[-1, 1] is a box; N(0, I) has no bound."""
    if prior == "uniform":
        return tf.clip_by_value(z, -1.0, 1.0)
    return z


def invert(generator, images, steps=500, learning_rate=0.05, prior="uniform", seed=0,
           batch_size=64, z_dim=None, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Finds ``z`` with ``G(z) ~ x`` for real images (BEGAN sec. 4.3).

    Minimises ``e_r = mean |x - G(z)|`` (mean over pixels, per image) with Adam,
    each image's ``z`` independently: the objective is the *sum* over the batch of
    per-image errors, so an image's gradient does not depend on the batch size.
    After every step ``z`` is projected back onto the prior's support (clipped to
    [-1, 1] for the uniform prior; the normal prior is unbounded). The learning
    rate follows a cosine decay from ``learning_rate`` to 0 over ``steps``, which
    lets the sign-like gradient of the L1 error settle instead of oscillating.
    The best ``z`` seen for each image (lowest error) is returned.

    Args:
      generator: a Keras generator, a tfbegan model, a loaded SavedModel or a
        callable ``z -> images`` (see :func:`as_generator_fn`).
      images: ``[N, H, W, C]`` float images in [-1, 1] (the generator's shape).
      steps: Adam steps (>= 1).
      learning_rate: initial Adam learning rate (> 0).
      prior: ``"uniform"`` or ``"normal"``; the start ``z`` is drawn from it
        (stateless, keyed by ``seed``).
      seed: seed of the initial ``z``.
      batch_size: images optimised together.
      z_dim: latent width; needed only when it cannot be read from ``generator``.

    Returns:
      ``(z, errors)``: float32 ``[N, z_dim]`` and ``[N]`` (``mean |x - G(z)|``).
    """
    if prior not in priors.PRIORS:
        raise ValueError(f"prior={prior!r} is not supported; allowed: {priors.PRIORS}.")
    if int(steps) < 1:
        raise ValueError(f"steps={steps!r} must be >= 1.")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate={learning_rate!r} must be > 0.")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size!r} must be >= 1.")
    fn, found_dim = as_generator_fn(generator)
    z_dim = z_dim or found_dim
    if not z_dim:
        raise ValueError("z_dim could not be read from the generator; pass z_dim=.")
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty [N, H, W, C] array, got shape "
                         f"{images.shape}.")
    steps = int(steps)
    z0_all = priors.sample(prior, len(images), z_dim, seed).numpy()

    loop = _make_adam_loop(fn, images.shape[1:], z_dim, steps, float(learning_rate),
                           prior, beta1, beta2, epsilon)
    zs, errs = [], []
    for i in range(0, len(images), batch_size):
        z, err = loop(tf.constant(images[i:i + batch_size]),
                      tf.constant(z0_all[i:i + batch_size]))
        zs.append(z.numpy())
        errs.append(err.numpy())
    return np.concatenate(zs), np.concatenate(errs)


def _per_image_error(x, g):
    return tf.reduce_mean(tf.abs(x - g), axis=[1, 2, 3])


def _make_adam_loop(fn, image_shape, z_dim, steps, learning_rate, prior, beta1, beta2,
                    epsilon):
    """Adam written out by hand (element-wise, so each image's z follows its own
    trajectory) in one ``tf.while_loop``; traced once for any batch size."""

    @tf.function(input_signature=[
        tf.TensorSpec([None, *image_shape], tf.float32),
        tf.TensorSpec([None, z_dim], tf.float32)])
    def loop(x, z0):
        def body(t, z, m, v, best_z, best_err):
            with tf.GradientTape() as tape:
                tape.watch(z)
                err = _per_image_error(x, fn(z))
                total = tf.reduce_sum(err)
            grad = tape.gradient(total, z)
            # err scores the z before this update: keep the best seen.
            better = err < best_err
            best_err = tf.where(better, err, best_err)
            best_z = tf.where(better[:, None], z, best_z)
            step = tf.cast(t + 1, tf.float32)
            lr = 0.5 * learning_rate * (
                1.0 + tf.cos(math.pi * tf.cast(t, tf.float32) / steps))
            m = beta1 * m + (1.0 - beta1) * grad
            v = beta2 * v + (1.0 - beta2) * tf.square(grad)
            m_hat = m / (1.0 - beta1 ** step)
            v_hat = v / (1.0 - beta2 ** step)
            z = _project(z - lr * m_hat / (tf.sqrt(v_hat) + epsilon), prior)
            return t + 1, z, m, v, best_z, best_err

        z0 = _project(z0, prior)
        zeros = tf.zeros_like(z0)
        inf = tf.fill([tf.shape(z0)[0]], np.float32(np.inf))
        _, z, _, _, best_z, best_err = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), z0, zeros, zeros, z0, inf))
        # The last update has not been scored yet.
        err = _per_image_error(x, fn(z))
        better = err < best_err
        return tf.where(better[:, None], z, best_z), tf.where(better, err, best_err)

    return loop


# ---------------------------------------------------------------------- interpolation
def interpolate(z0, z1, steps, spherical=False):
    """Points from ``z0`` to ``z1`` inclusive (BEGAN Figure 4 uses linear paths).

    Linear: ``z(t) = (1 - t) z0 + t z1``. Spherical (``spherical=True``, Shoemake's
    slerp, as White 2016 suggests for Gaussian priors):
    ``z(t) = sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1`` with
    ``cos W = z0.z1 / (|z0| |z1|)``, falling back to linear where W is ~0 or ~pi
    (the great circle is undefined). ``t`` runs over ``linspace(0, 1, steps)`` and
    the endpoints are exactly ``z0`` and ``z1``. Note that a slerp path between
    two points of the [-1, 1] cube may leave the cube; linear paths never do.

    Args:
      z0, z1: ``[z_dim]`` or ``[B, z_dim]`` (broadcast together).
      steps: number of points (>= 2).

    Returns:
      float32 ``[steps, z_dim]`` for vector inputs, ``[B, steps, z_dim]`` for batches.
    """
    if int(steps) < 2:
        raise ValueError(f"steps={steps!r} must be >= 2 (the two endpoints).")
    z0 = np.asarray(z0, np.float64)
    z1 = np.asarray(z1, np.float64)
    vector = z0.ndim == 1 and z1.ndim == 1
    a, b = np.broadcast_arrays(np.atleast_2d(z0), np.atleast_2d(z1))
    t = np.linspace(0.0, 1.0, int(steps))[None, :, None]  # [1, S, 1]
    a3, b3 = a[:, None, :], b[:, None, :]
    out = (1.0 - t) * a3 + t * b3
    if spherical:
        na = np.linalg.norm(a, axis=-1)
        nb = np.linalg.norm(b, axis=-1)
        denom = np.maximum(na * nb, 1e-12)
        omega = np.arccos(np.clip(np.sum(a * b, axis=-1) / denom, -1.0, 1.0))
        sin_omega = np.sin(omega)
        ok = (sin_omega > 1e-6) & (na > 0) & (nb > 0)
        safe = np.where(ok, sin_omega, 1.0)[:, None, None]
        om = omega[:, None, None]
        slerp = (np.sin((1.0 - t) * om) / safe) * a3 + (np.sin(t * om) / safe) * b3
        out = np.where(ok[:, None, None], slerp, out)
    out[:, 0] = a
    out[:, -1] = b
    out = out.astype(np.float32)
    return out[0] if vector else out


# ---------------------------------------------------------------------- Figure 4
def figure4_rows(generator, images_a, images_b, steps=8, spherical=False,
                 prior="uniform", inversion_steps=500, learning_rate=0.05, seed=0,
                 batch_size=64):
    """The rows of BEGAN Figure 4c for pairs of real images.

    Each row is ``[x_a, G(z_a), G(z(t_1)), ..., G(z(t_steps)), G(z_b), x_b]``: the
    real images at both ends, their reconstructions next to them and ``steps``
    images decoded from the interpolation in between (exclusive of the
    endpoints). ``z_a``, ``z_b`` come from :func:`invert`.

    Returns:
      ``(rows, errors)``: float32 ``[pairs, steps + 4, H, W, C]`` in [-1, 1] and the
      reconstruction errors ``[pairs, 2]`` (of ``x_a``, ``x_b``).
    """
    images_a = np.asarray(images_a, np.float32)
    images_b = np.asarray(images_b, np.float32)
    if images_a.shape != images_b.shape:
        raise ValueError(f"images_a {images_a.shape} and images_b {images_b.shape} "
                         "must have the same shape.")
    n = len(images_a)
    z, err = invert(generator, np.concatenate([images_a, images_b]),
                    steps=inversion_steps, learning_rate=learning_rate, prior=prior,
                    seed=seed, batch_size=batch_size)
    path = interpolate(z[:n], z[n:], int(steps) + 2, spherical=spherical)
    if prior == "uniform":
        path = np.clip(path, -1.0, 1.0)  # slerp may step outside the cube
    flat = path.reshape(-1, path.shape[-1])
    decoded = generate(generator, flat, batch_size).reshape(
        (n, int(steps) + 2) + images_a.shape[1:])
    rows = np.concatenate([images_a[:, None], decoded, images_b[:, None]], axis=1)
    return rows, np.stack([err[:n], err[n:]], axis=1)


# ---------------------------------------------------------------------- sources
def load_generator(export_dir=None, checkpoint=None):
    """A generator to invert or evaluate, from an export or a training checkpoint.

    Args:
      export_dir: a SavedModel written by ``tfbegan.export`` (a version directory,
        or a model base path whose newest version is used). Loaded with
        ``tf.saved_model.load``; its ``serving_default`` signature is the
        generator (gradients flow through it, so :func:`invert` works on it).
      checkpoint: a ``ckpt-<step>.keras`` archive or a ``tfbegan-train`` workdir
        (its newest checkpoint).

    Returns:
      ``(generator, info)``: ``info`` has ``image_size``, ``channels``, ``z_dim``,
      ``prior``, ``step`` and ``source`` (the resolved path).
    """
    if bool(export_dir) == bool(checkpoint):
        raise ValueError("pass exactly one of export_dir (a SavedModel) and checkpoint "
                         "(a .keras checkpoint or a training workdir).")
    import os

    if checkpoint:
        from tfbegan import checkpoints

        path = os.fspath(checkpoint)
        if os.path.isdir(path):
            found = checkpoints.latest_checkpoint(path)
            if found is None:
                raise FileNotFoundError(f"no checkpoint under {path!r} (expected "
                                        f"checkpoints/ckpt-<step>.keras).")
            path = found
        if not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint {path!r} does not exist.")
        model, state = checkpoints.load_checkpoint(path, compile=False)
        info = {"image_size": int(model.image_size), "channels": int(model.channels),
                "z_dim": int(model.z_dim), "prior": getattr(model, "prior", "uniform"),
                "step": state.get("step"), "source": os.path.abspath(path)}
        return model.generator, info
    from tfbegan import export as export_lib

    if not os.path.isdir(export_dir):
        raise FileNotFoundError(f"export_dir={export_dir!r} is not a directory.")
    path = export_lib.resolve_export_dir(export_dir)
    loaded = tf.saved_model.load(path)
    if "serving_default" not in loaded.signatures:
        raise ValueError(f"{path!r} has no serving_default signature.")
    meta = export_lib.read_metadata(path)
    fn, z_dim = as_generator_fn(loaded)
    z_dim = int(meta.get("z_dim") or z_dim)
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


def _match_channels(images, channels):
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    return images.mean(axis=-1, keepdims=True)


def _load_image_file(path, image_size, channels):
    """One image file -> float32 ``[S, S, C]`` in [-1, 1] (largest centred square,
    antialiased resize)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        w, h = im.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        im = im.resize((image_size, image_size), Image.Resampling.BILINEAR,
                       reducing_gap=None)
        x = np.asarray(im, np.float32)
    if x.ndim == 2:
        x = x[..., None]
    return x / 127.5 - 1.0


def load_images(source, num, image_size, channels, seed=0):
    """Up to ``num`` real images, float32 ``[N, S, S, C]`` in [-1, 1].

    ``source``: ``mnist5k`` (a seeded random choice of the embedded digits), a
    folder (its first ``num`` image files in sorted order, searched recursively),
    a comma-separated list of image files, or a ``.npy`` array (uint8 0..255 or
    float in [-1, 1], ``[N, H, W, C]`` or ``[N, H, W]``).
    """
    import os

    source = os.fspath(source)
    if source == "mnist5k":
        from tfbegan.data import load_mnist5k

        images, _ = load_mnist5k(image_size)
        idx = np.random.default_rng(seed).permutation(len(images))[:num]
        return _match_channels(np.array(images[idx], np.float32), channels)
    if source.endswith(".npy"):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{source!r} does not exist.")
        x = np.load(source)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"{source!r} holds shape {x.shape}; expected "
                             f"[N, H, W, 1|3].")
        x = x[:num]
        x = x.astype(np.float32) / 127.5 - 1.0 if x.dtype == np.uint8 else \
            x.astype(np.float32)
        if x.shape[1] != image_size or x.shape[2] != image_size:
            x = tf.image.resize(x, [image_size, image_size], antialias=True).numpy()
        return _match_channels(np.clip(x, -1.0, 1.0), channels)
    if os.path.isdir(source):
        from tfbegan.data import list_image_files

        paths = list_image_files(source)[:num]
    else:
        paths = [p for p in source.split(",") if p]
        for p in paths:
            if not os.path.isfile(p):
                raise FileNotFoundError(f"image {p!r} does not exist (pass a folder, "
                                        f"image files separated by commas, a .npy "
                                        f"file or mnist5k).")
        paths = paths[:num]
    return np.stack([_load_image_file(p, image_size, channels) for p in paths])

"""Attribute vectors and latent arithmetic (Khan et al. 2018, sec. 5.5).

"We calculate the average latent encoded representations of all images with and
without a specific attribute respectively. Then a weighted version of the difference
vector can be added to the newly generated image latent representation to add or
remove a specific attribute."

    v_attr = mean_{x : attr(x)} E(x) - mean_{x : not attr(x)} E(x)
    z'     = z + s * v_attr,   s in scales

``E`` is any encoder ``images -> z``: a tfbegan model with ``has_encoder``
(``model.encode``, which gives the VAE mean mu), a loaded SavedModel (its ``encode``
signature, written by :mod:`tfbegan.serving.export`), a signature function, or a plain
callable. Labelled images come from the embedded MNIST digits (attributes
``digit_0`` .. ``digit_9``, offline) or CelebA's 40 binary attributes through tfds
(names spelled as tfds spells them, e.g. ``Black_Hair``; the data must be prepared).
"""

from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from tfbegan import imaging
from tfbegan.data import mnist5k
from tfbegan.serving.loading import signature_input

#: CelebA's 40 attributes, spelled as ``tfds.load("celeb_a")`` spells them.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry",
    "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee",
    "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open",
    "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
    "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
    "Wearing_Necklace", "Wearing_Necktie", "Young")
#: Offline attributes: the class labels of the embedded MNIST digits.
DIGIT_ATTRIBUTES = tuple(f"digit_{d}" for d in range(10))
_DIGIT = re.compile(r"^digit_(\d)$")
#: Output key of the exported ``encode`` signature (tfbegan/serving/export.py).
ENCODE_OUTPUT = "z"


def as_encode_fn(encoder):
    """Normalises ``encoder`` into ``(fn, image_shape)`` with ``fn(images) -> z``.

    Accepts a model with ``has_encoder`` (uses ``encode``), a loaded SavedModel
    (uses ``signatures["encode"]``), a signature / concrete function with one
    keyword input, or any callable. A dict output contributes its ``z`` entry (or
    its only entry). ``image_shape`` is ``(H, W, C)`` when a signature tells, else
    the model's image shape, else None.
    """
    if getattr(encoder, "has_encoder", False) and hasattr(encoder, "encode"):
        shape = getattr(encoder, "image_shape", None)
        return encoder.encode, shape
    if getattr(encoder, "has_encoder", None) is False:
        raise ValueError(f"{type(encoder).__name__} has no encoder (has_encoder=False); "
                         f"attribute vectors need a model that maps images to z.")
    signatures = getattr(encoder, "signatures", None)
    if signatures is not None:
        if "encode" not in signatures:
            raise ValueError("the SavedModel has no 'encode' signature (found "
                             f"{sorted(signatures)}); export a model with an encoder "
                             "(VAEBEGAN, BiGAN, AGE).")
        encoder = signatures["encode"]
    if not callable(encoder):
        raise ValueError(f"encoder={encoder!r} is not callable.")
    sig = signature_input(encoder)
    shape = None
    call = encoder
    if sig is not None:
        name, spec = sig
        if spec.shape.rank == 4:
            shape = tuple(spec.shape[1:])
        if name is not None:
            def call(images):
                return encoder(**{name: images})

    def fn(images):
        out = call(images)
        if isinstance(out, dict):
            if ENCODE_OUTPUT in out:
                out = out[ENCODE_OUTPUT]
            elif len(out) == 1:
                out = next(iter(out.values()))
            else:
                raise ValueError(f"encoder output has keys {sorted(out)}; expected "
                                 f"{ENCODE_OUTPUT!r} or exactly one entry.")
        return out
    return fn, shape


def encode(encoder, images, batch_size=64):
    """``E(images)`` in batches, float32 numpy ``[N, z_dim]``."""
    fn, _ = as_encode_fn(encoder)
    images = np.asarray(images, np.float32)
    if len(images) == 0:
        raise ValueError("encode needs at least one image.")
    outs = [np.asarray(fn(tf.constant(images[i:i + batch_size])), np.float32)
            for i in range(0, len(images), batch_size)]
    return np.concatenate(outs, axis=0)


def attribute_vector(encoder, images_with, images_without, batch_size=64):
    """``mean E(images_with) - mean E(images_without)`` (Khan et al. 2018, sec. 5.5).

    Returns float32 ``[z_dim]``.
    """
    if len(images_with) == 0 or len(images_without) == 0:
        raise ValueError(f"an attribute vector needs images with and without the "
                         f"attribute; got {len(images_with)} with and "
                         f"{len(images_without)} without.")
    z_with = encode(encoder, images_with, batch_size)
    z_without = encode(encoder, images_without, batch_size)
    return z_with.mean(axis=0) - z_without.mean(axis=0)


def attribute_vector_from_labels(encoder, images, has_attribute, batch_size=64):
    """:func:`attribute_vector` with a boolean mask ``has_attribute`` ``[N]``."""
    mask = np.asarray(has_attribute, bool)
    images = np.asarray(images, np.float32)
    if mask.shape != (len(images),):
        raise ValueError(f"has_attribute must have shape [{len(images)}], "
                         f"got {mask.shape}.")
    return attribute_vector(encoder, images[mask], images[~mask], batch_size)


def apply_attribute(z, vector, scales):
    """``z + s * vector`` for each ``s`` in ``scales``: ``[num, len(scales), z_dim]``."""
    z = np.asarray(z, np.float32)
    vector = np.asarray(vector, np.float32)
    scales = np.asarray(scales, np.float32)
    if z.ndim != 2 or vector.shape != (z.shape[1],):
        raise ValueError(f"z must be [num, z_dim] and vector [z_dim]; got {z.shape} "
                         f"and {vector.shape}.")
    return z[:, None, :] + scales[None, :, None] * vector[None, None, :]


def check_attribute(name):
    """Raises ValueError unless ``name`` is a digit or CelebA attribute."""
    if name in DIGIT_ATTRIBUTES or name in CELEBA_ATTRIBUTES:
        return name
    lower = {a.lower(): a for a in CELEBA_ATTRIBUTES}
    hint = f" (did you mean {lower[name.lower()]!r}?)" if name.lower() in lower else ""
    raise ValueError(f"attribute={name!r} is not known{hint}; allowed: "
                     f"{', '.join(DIGIT_ATTRIBUTES)} (embedded digits) or one of "
                     f"CelebA's 40: {', '.join(CELEBA_ATTRIBUTES)}.")


def load_digit_data(attribute, image_size, channels=1):
    """Embedded MNIST digits and the mask ``label == d`` for ``attribute="digit_d"``.

    Returns ``(images in [-1, 1] [N, S, S, channels], mask [N])``.
    """
    m = _DIGIT.match(attribute)
    if not m:
        raise ValueError(f"attribute={attribute!r} is not a digit attribute; "
                         f"allowed: {', '.join(DIGIT_ATTRIBUTES)}.")

    images, labels = mnist5k.load_mnist5k(image_size)
    images = imaging.match_channels(np.asarray(images, np.float32), channels)
    return images, np.asarray(labels).reshape(-1) == int(m.group(1))


def load_celeba_data(attribute, image_size, channels=3, max_images=2000,
                     split="train", data_dir=None, download=False):
    """The first ``max_images`` CelebA images of ``split`` and the attribute mask.

    Reads ``tfds.load("celeb_a", download=download)``; with ``download=False`` the
    data must already be prepared under ``data_dir``. Images are centre-cropped to a
    square and resized to ``image_size`` (:func:`tfbegan.imaging.resize`), in [-1, 1].
    """
    if attribute not in CELEBA_ATTRIBUTES:
        check_attribute(attribute)
        raise ValueError(f"attribute={attribute!r} is not a CelebA attribute.")
    import tensorflow_datasets as tfds

    try:
        ds = tfds.load("celeb_a", split=split, data_dir=data_dir, download=download)
    except Exception as e:  # tfds raises several types for "not prepared"
        raise ValueError(
            f"CelebA is not available in data_dir={data_dir!r} ({type(e).__name__}); "
            f"prepare it with `tfds build celeb_a` (manual download of the files) or "
            f"let tfds download it (download=True; tfbegan-latent --latent_download).") from None
    images, mask = [], []
    for ex in tfds.as_numpy(ds.take(max_images)):
        images.append(ex["image"])
        mask.append(bool(ex["attributes"][attribute]))
    if not images:
        raise ValueError(f"CelebA split {split!r} is empty.")
    x = imaging.resize(imaging.center_crop(imaging.as_model_range(np.stack(images))),
                       image_size)
    return imaging.match_channels(x, channels), np.asarray(mask)


def load_attribute_data(attribute, image_size, channels, max_images=2000,
                        data_dir=None, download=False):
    """``(images, mask)`` for a digit or CelebA attribute (see module docstring)."""
    check_attribute(attribute)
    if attribute in DIGIT_ATTRIBUTES:
        images, mask = load_digit_data(attribute, image_size, channels)
        if max_images and len(images) > max_images:
            # The embedded digits are sorted by class: subsample evenly, not a prefix.
            keep = np.linspace(0, len(images) - 1, max_images).astype(int)
            images, mask = images[keep], mask[keep]
        return images, mask
    return load_celeba_data(attribute, image_size, channels, max_images,
                            data_dir=data_dir, download=download)

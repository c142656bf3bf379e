"""The one home of image conversions: value ranges, channels, resizing, grids, PNGs,
and loading real images for comparison with a generator.

Value ranges. Models see images in [-1, 1] (Berthelot et al. 2017 scale pixels as
``x / 127.5 - 1``); the IQA distances of Vertolli & Davies 2017 and MS-SSIM work on
[0, 1]; files hold uint8 0..255:

* :func:`from_uint8`: ``x / 127.5 - 1``;  :func:`to_uint8`: ``round((x + 1) * 127.5)``;
* :func:`to_zero_one`: ``(x + 1) / 2``;  :func:`as_model_range`: either input kind.

Resizing has one method per purpose:

* :func:`resize` (image content to a model's or feature network's size): bilinear with
  ``antialias=True``, the filter of the training pipeline (``tfbegan.data``), so real
  images compared with samples went through the same filter as the training data; when
  shrinking its support widens with the factor (no aliasing, area-like), when enlarging
  (32 -> 299 for InceptionV3) it is plain bilinear.
* :func:`upscale` (pictures for people): integer nearest-neighbour repetition, so each
  generated pixel stays a crisp square and no value is invented.

Functions taking images accept NumPy arrays or tensors and return the same kind.
"""

from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

#: ITU-R BT.601 luma weights (PIL's ``convert("L")``, ``tf.image.rgb_to_grayscale``
#: and the Y of the YIQ transform in tfbegan.distances).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


# ---------------------------------------------------------------------- ranges
def to_uint8(images):
    """Maps images in [-1, 1] to uint8 0..255 (clipping outside values).

    ``round((x + 1) * 127.5)``, the inverse of :func:`from_uint8`. Always NumPy.
    """
    x = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def from_uint8(images):
    """uint8 0..255 -> float32 [-1, 1]: ``x / 127.5 - 1``."""
    if tf.is_tensor(images):
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return np.asarray(images, np.float32) / 127.5 - 1.0


def to_zero_one(images, clip=False):
    """[-1, 1] -> [0, 1]: ``(x + 1) / 2`` as float32 (``clip``: clip to [0, 1] after)."""
    if tf.is_tensor(images):
        x = (tf.cast(images, tf.float32) + 1.0) * 0.5
        return tf.clip_by_value(x, 0.0, 1.0) if clip else x
    x = (np.asarray(images, np.float32) + 1.0) * 0.5
    return np.clip(x, 0.0, 1.0) if clip else x


def as_model_range(images):
    """float32 images in [-1, 1] from uint8 (scaled by :func:`from_uint8`) or float
    (taken as already in [-1, 1]) input."""
    if images.dtype in (np.uint8, tf.uint8):
        return from_uint8(images)
    if tf.is_tensor(images):
        return tf.cast(images, tf.float32)
    return np.asarray(images, np.float32)


# ---------------------------------------------------------------------- channels
def match_channels(images, channels):
    """``[..., C]`` -> ``[..., channels]`` for C, channels in {1, 3}.

    Grey to RGB repeats the channel; RGB to grey takes the BT.601 luma
    (:data:`LUMA_WEIGHTS`), as PIL does for image files, so a folder image read as
    grey and an RGB array converted here agree.
    """
    have = images.shape[-1]
    if have == channels:
        return images
    if (have, channels) == (1, 3):
        if tf.is_tensor(images):
            return tf.repeat(images, 3, axis=-1)
        return np.repeat(images, 3, axis=-1)
    if (have, channels) == (3, 1):
        weights = np.asarray(LUMA_WEIGHTS, np.float32)
        if tf.is_tensor(images):
            return tf.reduce_sum(tf.cast(images, tf.float32) * weights, -1, keepdims=True)
        return np.sum(np.asarray(images, np.float32) * weights, -1, keepdims=True)
    raise ValueError(f"cannot convert {have} channels to channels={channels}; allowed: "
                     f"1 or 3.")


# ---------------------------------------------------------------------- sizes
def center_crop(images):
    """The largest centred square of ``[N, H, W, C]`` images."""
    h, w = int(images.shape[1]), int(images.shape[2])
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return images[:, top:top + side, left:left + side, :]


def resize(images, image_size):
    """``[N, H, W, C]`` -> ``[N, S, S, C]`` float32, bilinear with antialiasing (see
    the module docstring for why); a no-op when already ``image_size`` squared."""
    if images.shape[1] == image_size and images.shape[2] == image_size:
        return images
    out = tf.image.resize(tf.cast(images, tf.float32), [image_size, image_size],
                          method="bilinear", antialias=True)
    return out if tf.is_tensor(images) else out.numpy()


def upscale(image, factor):
    """Integer nearest-neighbour enlargement of ``[H, W, C]`` (for viewing)."""
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"scale={factor!r} must be an integer >= 1.")
    image = np.asarray(image)
    return image if factor == 1 else image.repeat(factor, 0).repeat(factor, 1)


# ---------------------------------------------------------------------- grids
def make_grid(images, rows=None, pad=2, pad_value=255):
    """Tiles ``[N, H, W, C]`` images (uint8 or float in [-1, 1]) into one image.

    Args:
      images: array-like, ``[N, H, W, C]`` with C in {1, 3}.
      rows: number of rows; default: as square as possible.
      pad: pixels between tiles.
      pad_value: colour of the padding (0..255).

    Returns:
      uint8 ``[rows * (H + pad) + pad, cols * (W + pad) + pad, C]``.
    """
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images of shape [N, H, W, 1 or 3], got {x.shape}.")
    if x.dtype != np.uint8:
        x = to_uint8(x)
    n, h, w, c = x.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image.")
    cols = math.ceil(math.sqrt(n)) if rows is None else math.ceil(n / rows)
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value,
                   np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = x[i]
    return grid


def save_png(path, image):
    """Writes a uint8 ``[H, W, 1 or 3]`` array as PNG, atomically."""
    from PIL import Image

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp.png"
    Image.fromarray(image).save(tmp)
    os.replace(tmp, path)
    return path


def save_grid(path, images, rows=None, scale=1):
    """``save_png(path, make_grid(images, rows))``, enlarged ``scale`` x by
    :func:`upscale` so small images stay visible."""
    return save_png(path, upscale(make_grid(images, rows), scale))


# ---------------------------------------------------------------------- real images
def load_image_file(path, image_size, channels):
    """One image file -> float32 ``[S, S, channels]`` in [-1, 1]: decoded by PIL
    (grey via its BT.601 luma), the largest centred square, :func:`resize`."""
    from PIL import Image

    with Image.open(path) as im:
        x = np.asarray(im.convert("L" if channels == 1 else "RGB"), np.uint8)
    if x.ndim == 2:
        x = x[..., None]
    return resize(center_crop(from_uint8(x)[None]), image_size)[0]


def _load_array(path, num):
    """``[N, H, W, C]`` float32 in [-1, 1] from a ``.npy`` file (uint8 or float)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} does not exist.")
    x = np.load(path)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"{path!r} holds shape {x.shape}; expected [N, H, W, 1|3].")
    return np.clip(as_model_range(x[:num]), -1.0, 1.0)


def _image_paths(source, num):
    """The first ``num`` image files of a folder (sorted, recursive) or of a
    comma-separated list."""
    if os.path.isdir(source):
        from tfbegan.data import list_image_files

        return list_image_files(source)[:num]
    paths = [p for p in source.split(",") if p]
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"image {p!r} does not exist (pass a folder, image "
                                    f"files separated by commas, a .npy file, mnist5k, "
                                    f"folder:PATH or tfds:NAME).")
    return paths[:num]


def _load_data_spec(spec, num, image_size, seed, data_dir, crop):
    """A seeded sample of a ``tfbegan.data`` spec (``folder:`` or ``tfds:``): shuffled
    with ``seed``, no repeat, never downloading."""
    from tfbegan import data as data_lib

    config = data_lib.DataConfig(dataset=spec, data_dir=data_dir, download=False,
                                 crop=crop, image_size=image_size)
    ds = data_lib.make_dataset(config, 1, seed=seed, shuffle=True, repeat=False)
    return np.concatenate([b.numpy() for b in ds.take(num)], axis=0)


def load_real_images(source, num, image_size, channels, seed=0, data_dir=None,
                     crop="center"):
    """Up to ``num`` real images, float32 ``[N, S, S, channels]`` in [-1, 1].

    ``source``:

    * ``mnist5k``: a seeded random choice of the 5,000 embedded digits (they are
      sorted by class, so a prefix would be one class);
    * ``folder:PATH`` or ``tfds:NAME[:SPLIT]``: the training pipeline's decoding and
      ``crop`` (``tfbegan.data``), seeded shuffle, tfds never downloads;
    * a folder (its first ``num`` image files, sorted, recursive), image files
      separated by commas (largest centred square), or a ``.npy`` array (uint8
      0..255 or float in [-1, 1], ``[N, H, W, C]`` or ``[N, H, W]``).

    Every image is resized with :func:`resize` and its channels matched with
    :func:`match_channels`.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num={num!r} must be an integer >= 1.")
    source = os.fspath(source)
    if source == "mnist5k":
        from tfbegan.data import load_mnist5k

        images, _ = load_mnist5k(image_size)
        x = np.array(images[np.random.default_rng(seed).permutation(len(images))[:num]])
    elif source.startswith(("folder:", "tfds:")):
        x = _load_data_spec(source, num, image_size, seed, data_dir, crop)
    elif source.endswith(".npy"):
        x = resize(_load_array(source, num), image_size)
    else:
        x = np.stack([load_image_file(p, image_size, channels)
                      for p in _image_paths(source, num)])
    # Resampling round-off may step a hair outside [-1, 1] (1.0000002).
    x = np.clip(np.asarray(x, np.float32), -1.0, 1.0)
    return np.asarray(match_channels(x, channels), np.float32)

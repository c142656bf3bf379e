"""The one home of image conversions: value ranges, channels, crops, resizing, grids
and PNGs.

Value ranges. Models see images in [-1, 1] (Berthelot et al. 2017 scale pixels as
``x / 127.5 - 1``); the IQA distances of Vertolli & Davies 2017 and MS-SSIM work on
[0, 1]; files hold uint8 0..255:

* :func:`from_uint8`: ``x / 127.5 - 1``;  :func:`to_uint8`: ``round((x + 1) * 127.5)``;
* :func:`to_zero_one`: ``(x + 1) / 2``;  :func:`as_model_range`: either input kind.

Resizing has one method per purpose:

* :func:`resize` (image content to a model's or feature network's size): bilinear with
  ``antialias=True``, the filter of the training pipeline (``tfbegan.data.pipeline``), so real
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
#: and the Y of the YIQ transform in tfbegan.losses.distances).
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
    """``[..., H, W, C]`` -> ``[..., S, S, C]`` float32, bilinear with antialiasing (see
    the module docstring for why); a no-op when already ``image_size`` squared."""
    if images.shape[-3] == image_size and images.shape[-2] == image_size:
        return images
    out = tf.image.resize(tf.cast(images, tf.float32), [image_size, image_size],
                          method="bilinear", antialias=True)
    return out if tf.is_tensor(images) else out.numpy()


# carpedm20/BEGAN-tensorflow (data_loader.py) crops the 218x178 (height x width)
# aligned CelebA images with tf.image.crop_to_bounding_box(x, 50, 25, 128, 128) before
# resizing: a 128x128 face box whose top-left corner is row 50, column 25.
# (DCGAN-tensorflow instead centre-crops 108x108; BEGAN's faces are the tighter box.)
CELEBA_BOX = {"image_height": 218, "image_width": 178, "top": 50, "left": 25, "size": 128}


def crop_box(height, width, crop: str):
    """Returns ``(top, left, side)`` of the square to keep, as int32 scalars.

    ``center``: the largest centred square. ``celeba``: ``CELEBA_BOX`` (row 50,
    column 25, 128 px on 218x178), scaled proportionally for images of another size
    and clipped to the image.
    """
    if crop == "center":
        side = tf.minimum(height, width)
        return (height - side) // 2, (width - side) // 2, side
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    sy = h / CELEBA_BOX["image_height"]
    sx = w / CELEBA_BOX["image_width"]
    top = tf.cast(tf.round(CELEBA_BOX["top"] * sy), tf.int32)
    left = tf.cast(tf.round(CELEBA_BOX["left"] * sx), tf.int32)
    side = tf.cast(tf.round(CELEBA_BOX["size"] * tf.minimum(sy, sx)), tf.int32)
    top = tf.clip_by_value(top, 0, height - 1)
    left = tf.clip_by_value(left, 0, width - 1)
    side = tf.maximum(tf.minimum(side, tf.minimum(height - top, width - left)), 1)
    return top, left, side


def grey_level(rgb):
    """The BT.601 luma of one ``(r, g, b)`` uint8 colour, as PIL's ``convert("L")``
    computes it (fixed point, rounded), so a grey run's background matches its images."""
    r, g, b = (int(v) for v in rgb)
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16


def _pad_to_square(image, background):
    """Float ``[H, W, C]`` centred on a square of ``background`` (C values)."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    side = tf.maximum(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    fill = tf.constant(background, tf.float32)
    # tf.pad fills with one scalar: pad the difference from the colour with 0.
    padded = tf.pad(image - fill, [[top, side - h - top], [left, side - w - left], [0, 0]])
    return padded + fill


def square_uint8(image, image_size: int, resize: str = "crop", crop: str = "center",
                 background=(255, 255, 255)):
    """uint8 ``[H, W, C]`` -> a square, resized, rounded uint8 ``[S, S, C]``.

    ``resize`` is the policy for an image that is not square (``DataConfig.resize``):
    ``crop`` keeps the ``crop`` square (:func:`crop_box`), ``pad`` centres the image
    on a square of ``background`` (one value per channel, C of them), ``stretch``
    resizes to the square whatever the aspect ratio. Kept as uint8 so that a cache
    holds a quarter of the float32 bytes; the rounding (at most 0.5/255) is the same a
    saved resized image would carry.
    """
    image = tf.convert_to_tensor(image)
    if resize == "crop":
        shape = tf.shape(image)
        top, left, side = crop_box(shape[0], shape[1], crop)
        image = image[top:top + side, left:left + side, :]
    image = tf.cast(image, tf.float32)
    if resize == "pad":
        image = _pad_to_square(image, tuple(background))
    elif resize not in ("crop", "stretch"):
        raise ValueError(f"resize={resize!r} is not supported; allowed values: 'crop', "
                         f"'pad', 'stretch'.")
    image = tf.image.resize(image, [image_size, image_size], method="bilinear",
                            antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


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

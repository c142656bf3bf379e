"""Crop and resize: every image source's path into the training frame.

A source image (any size, uint8) becomes a square ``S x S`` image: a square crop
(``center``: the largest centred square; ``celeba``: the face box of the aligned
CelebA images), an antialiased bilinear resize, rounding back to uint8, and finally
the scaling to [-1, 1] (Berthelot et al. 2017, sec. 4: images in [-1, 1], the range
of the generator's output).
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["CELEBA_BOX", "crop_box", "crop_resize_uint8", "decode_file", "resize",
           "to_unit_range"]

# carpedm20/BEGAN-tensorflow (data_loader.py) crops the 218x178 (height x width)
# aligned CelebA images with tf.image.crop_to_bounding_box(x, 50, 25, 128, 128) before
# resizing: a 128x128 face box whose top-left corner is row 50, column 25.
# (DCGAN-tensorflow instead centre-crops 108x108; BEGAN's faces are the tighter box.)
CELEBA_BOX = {"image_height": 218, "image_width": 178, "top": 50, "left": 25, "size": 128}


def resize(images, image_size: int):
    """Resizes ``[..., H, W, C]`` to ``image_size`` squared.

    Bilinear with ``antialias=True``: a triangle filter whose support scales with the
    reduction factor when shrinking (area-like, no aliasing), plain bilinear when
    enlarging.
    """
    return tf.image.resize(images, [image_size, image_size], method="bilinear",
                           antialias=True)


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


def crop_resize_uint8(image, crop: str, image_size: int):
    """uint8 ``[H, W, C]`` -> cropped, resized, rounded uint8 ``[S, S, C]``.

    Kept as uint8 so that a cache holds a quarter of the float32 bytes; the rounding
    (at most 0.5/255) is the same a saved resized image would carry.
    """
    shape = tf.shape(image)
    top, left, side = crop_box(shape[0], shape[1], crop)
    image = image[top:top + side, left:left + side, :]
    image = resize(tf.cast(image, tf.float32), image_size)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def decode_file(path, crop: str, image_size: int):
    """File path -> uint8 [S, S, 3]; grey and palette images are converted to RGB."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                               expand_animations=False)
    image.set_shape([None, None, 3])
    return crop_resize_uint8(image, crop, image_size)


def to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0

"""Image files as users have them -> uint8 pixels with the run's channels.

Files are decoded with PIL rather than ``tf.io.decode_image``, which drops alpha (the
transparent areas of an RGBA PNG came out as whatever colour they hid, usually black),
cannot see a palette's or a grey PNG's transparent colour and ignores GIF
transparency. :func:`read_pixels`:

* transparency (RGBA, LA, PA, a palette or grey/RGB image with a ``tRNS`` colour) is
  composited onto the background with straight alpha, ``a * rgb + (1 - a) * bg``,
  ``a = alpha / 255``, rounded;
* 16-bit grey (PIL modes ``I;16*`` and ``I``) is scaled ``round(v * 255 / 65535)``;
  PIL's own ``convert("L")`` clips every value above 255 to white;
* the result has the run's channels: grey repeated to RGB, colour to BT.601 luma
  with PIL's ``convert("L")`` (:func:`tfbegan.imaging.grey_level`'s formula).

:func:`decode_file` wraps it for ``tf.data`` (a ``tf.numpy_function``; PIL releases the
GIL while it decodes) and squares and resizes the result
(:func:`tfbegan.imaging.square_uint8`). A file PIL cannot read raises ``ValueError``
naming it, which ``ignore_errors`` passes drop and the callers name.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfbegan import imaging

__all__ = ["DecodeSettings", "decode_file", "read_header", "read_pixels"]

#: PIL modes with an alpha channel (``La`` / ``RGBa``: premultiplied, converted by PIL).
ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
#: PIL modes of 16- and 32-bit integer grey (a 16-bit grey PNG opens as ``I;16``).
WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
#: PIL modes without colour (a palette counts when every entry is grey).
GREY_MODES = ("1", "L", "LA", "La", "F", *WIDE_GREY_MODES)


@dataclasses.dataclass(frozen=True)
class DecodeSettings:
    """What one decoded training image looks like (hashable: a cache key).

    ``channels`` 1 or 3, ``background`` ``(r, g, b)``, and ``image_size``, ``resize``
    and ``crop`` as in ``tfbegan.data.config.DataConfig``, whose resolved copy
    (concrete size and channels) :meth:`from_config` reads.
    """

    image_size: int
    channels: int
    resize: str = "crop"
    crop: str = "center"
    background: tuple = (255, 255, 255)

    @classmethod
    def from_config(cls, data_config):
        return cls(int(data_config.image_size), int(data_config.channels),
                   data_config.resize, data_config.crop, data_config.background_rgb)

    @property
    def fill(self):
        """The background as ``channels`` values (its luma for a grey run)."""
        if self.channels == 1:
            return (imaging.grey_level(self.background),)
        return tuple(self.background)


def _is_colour(im):
    if im.mode in GREY_MODES:
        return False
    if im.mode in ("P", "PA"):
        palette = np.asarray(im.getpalette() or [], np.int32).reshape(-1, 3)
        return bool(np.any(palette != palette[:, :1]))
    return True


def read_header(path):
    """``(width, height, is_colour)`` from the file's header, without decoding pixels."""
    from PIL import Image  # only folders need PIL

    with Image.open(path) as im:
        return im.width, im.height, _is_colour(im)


def _eight_bit(im):
    """16/32-bit integer grey scaled to 8-bit ``L`` (other modes unchanged)."""
    from PIL import Image

    if im.mode not in WIDE_GREY_MODES:
        return im
    wide = np.asarray(im).astype(np.float64)
    grey = np.clip(np.rint(wide * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L")


def _composite(im, background):
    """RGB ``PIL.Image`` of ``im`` over ``background``, straight alpha."""
    from PIL import Image

    rgba = np.asarray(im.convert("RGBA"), np.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = alpha * rgba[..., :3] + (1.0 - alpha) * np.asarray(background, np.float32)
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")


def read_pixels(path, channels=3, background=(255, 255, 255)) -> np.ndarray:
    """One image file -> uint8 ``[H, W, channels]`` (see the module docstring).

    Animated files give their first frame. Raises ``ValueError`` naming ``path`` when
    PIL cannot open or decode it (not an image, truncated, a decompression bomb).
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            im = _eight_bit(im)
            if im.mode in ALPHA_MODES or "transparency" in im.info:
                im = _composite(im, background)
            pixels = np.asarray(im.convert("RGB" if channels == 3 else "L"), np.uint8)
    except Exception as e:  # any failure means the file is unusable
        raise ValueError(f"cannot decode image file {path!r}: {e}") from None
    return pixels if pixels.ndim == 3 else pixels[..., None]


def decode_file(path, settings: DecodeSettings):
    """File path (string tensor) -> uint8 ``[S, S, C]`` for ``tf.data``: decoded by
    :func:`read_pixels`, squared and resized by :func:`tfbegan.imaging.square_uint8`."""
    def read(p):  # bytes in a graph, a 0-d object array when run eagerly
        p = p.item() if isinstance(p, np.ndarray) else p
        return read_pixels(os.fsdecode(p), settings.channels,
                           settings.background)

    image = tf.numpy_function(read, [path], tf.uint8, stateful=False)
    image.set_shape([None, None, settings.channels])
    return imaging.square_uint8(image, settings.image_size, settings.resize,
                                settings.crop, settings.fill)

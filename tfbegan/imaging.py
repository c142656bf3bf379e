"""Image helpers shared by callbacks and CLIs: [-1, 1] <-> uint8, grids, PNG files."""

from __future__ import annotations

import math
import os

import numpy as np


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 0..255 (clipping outside values).

    ``round((x + 1) * 127.5)``, the inverse of the data pipeline's ``x / 127.5 - 1``.
    """
    x = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


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
    """``save_png(path, make_grid(images, rows))``, optionally upscaled ``scale`` x
    (nearest neighbour) so small images stay visible."""
    grid = make_grid(images, rows)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return save_png(path, grid)

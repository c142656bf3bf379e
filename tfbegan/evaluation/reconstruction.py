"""Reconstruction grids x -> e(x) -> g(e(x)) (the AGE figures of Ulyanov et al. 2018).

Works with any encoder / generator pair given as callables, so BiGAN, AGE,
VAE+BEGAN or an exported SavedModel's ``encode`` / ``serving_default`` can be drawn
the same way.
"""

from __future__ import annotations

import numpy as np

from tfbegan import imaging


def reconstruct(encode_fn, generate_fn, images):
    """``generate_fn(encode_fn(images))`` as a float32 NumPy array ``[N, H, W, C]``."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"images must have shape [N, H, W, C], got {x.shape}.")
    recon = np.asarray(generate_fn(encode_fn(x)), dtype=np.float32)
    if recon.shape != x.shape:
        raise ValueError(f"reconstructions have shape {recon.shape}, the images "
                         f"{x.shape}.")
    return recon


def reconstruction_grid(encode_fn, generate_fn, images, columns=None):
    """uint8 grid: a row of originals above a row of their reconstructions.

    Args:
      encode_fn: images ``[N, H, W, C]`` in [-1, 1] -> latents ``[N, N_z]``.
      generate_fn: latents -> images in [-1, 1].
      images: the originals, float in [-1, 1].
      columns: images per row; with fewer than N, the pairs of rows repeat
        (originals, reconstructions, originals, ...). Default: all N in one row.
    """
    x = np.asarray(images, dtype=np.float32)
    recon = reconstruct(encode_fn, generate_fn, x)
    n = x.shape[0]
    columns = n if columns is None else int(columns)
    if columns < 1:
        raise ValueError(f"columns={columns!r} must be >= 1.")
    tiles = []
    for start in range(0, n, columns):
        block_x, block_r = x[start:start + columns], recon[start:start + columns]
        missing = columns - block_x.shape[0]
        if missing:
            # Pad the last pair of rows with white tiles so rows stay aligned.
            blank = np.ones((missing,) + x.shape[1:], np.float32)
            block_x = np.concatenate([block_x, blank])
            block_r = np.concatenate([block_r, blank])
        tiles += [block_x, block_r]
    tiles = np.concatenate(tiles)
    return imaging.make_grid(tiles, rows=tiles.shape[0] // columns)


def save_reconstruction_grid(path, encode_fn, generate_fn, images, columns=None,
                             scale=1):
    """Writes :func:`reconstruction_grid` as a PNG (upscaled ``scale`` x) to ``path``.

    Example: ``save_reconstruction_grid("recon.png", model.encode, model.generate,
    x[:8])`` for a BiGAN or AGE ``model``. Returns ``path``.
    """
    grid = reconstruction_grid(encode_fn, generate_fn, images, columns)
    return imaging.save_png(path, imaging.upscale(grid, scale))

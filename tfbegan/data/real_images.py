"""Real images to compare a generator with: any source, one seeded sample, [-1, 1].

Evaluation (``tfbegan-evaluate``), z-inversion (``tfbegan-invert``) and attribute
vectors read real images through :func:`load_real_images`: the embedded digits, a
training dataset spec, a folder, image files or a ``.npy`` array.
"""

from __future__ import annotations

import os

import numpy as np

from tfbegan import imaging
from tfbegan.data import pipeline
from tfbegan.data.config import DataConfig
from tfbegan.data.decode import read_pixels
from tfbegan.data.folders import list_image_files
from tfbegan.data.mnist5k import load_mnist5k


def load_image_file(path, image_size, channels):
    """One image file -> float32 ``[S, S, channels]`` in [-1, 1]: decoded as the
    training folders are (:func:`tfbegan.data.decode.read_pixels`: transparency onto
    white, grey via PIL's BT.601 luma), the largest centred square, :func:`resize`."""
    x = read_pixels(path, channels)
    return imaging.resize(imaging.center_crop(imaging.from_uint8(x)[None]), image_size)[0]


def _load_array(path, num):
    """``[N, H, W, C]`` float32 in [-1, 1] from a ``.npy`` file (uint8 or float)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} does not exist.")
    x = np.load(path)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"{path!r} holds shape {x.shape}; expected [N, H, W, 1|3].")
    return np.clip(imaging.as_model_range(x[:num]), -1.0, 1.0)


def _image_paths(source, num):
    """The first ``num`` image files of a folder (sorted, recursive) or of a
    comma-separated list."""
    if os.path.isdir(source):
        return list_image_files(source)[:num]
    paths = [p for p in source.split(",") if p]
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"image {p!r} does not exist (pass a folder, image "
                                    f"files separated by commas, a .npy file, mnist5k, "
                                    f"folder:PATH or tfds:NAME).")
    return paths[:num]


def _load_data_spec(spec, num, image_size, channels, seed, data_dir, crop):
    """A seeded sample of a ``tfbegan.data.pipeline`` spec (``folder:`` or ``tfds:``): shuffled
    with ``seed``, no repeat, never downloading."""
    config = DataConfig(dataset=spec, data_dir=data_dir, download=False, crop=crop,
                        image_size=image_size, channels=channels)
    ds = pipeline.make_dataset(config, 1, seed=seed, shuffle=True, repeat=False)
    return np.concatenate([b.numpy() for b in ds.take(num)], axis=0)


def load_real_images(source, num, image_size, channels, seed=0, data_dir=None,
                     crop="center"):
    """Up to ``num`` real images, float32 ``[N, S, S, channels]`` in [-1, 1].

    ``source``:

    * ``mnist5k``: a seeded random choice of the 5,000 embedded digits (they are
      sorted by class, so a prefix would be one class);
    * ``folder:PATH`` or ``tfds:NAME[:SPLIT]``: the training pipeline's decoding and
      ``crop`` (``tfbegan.data.pipeline``), seeded shuffle, tfds never downloads;
    * a folder (its first ``num`` image files, sorted, recursive), image files
      separated by commas (largest centred square), or a ``.npy`` array (uint8
      0..255 or float in [-1, 1], ``[N, H, W, C]`` or ``[N, H, W]``).

    Every image is resized with :func:`tfbegan.imaging.resize` and its channels matched with
    :func:`tfbegan.imaging.match_channels`.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num={num!r} must be an integer >= 1.")
    source = os.fspath(source)
    if source == "mnist5k":
        images, _ = load_mnist5k(image_size)
        x = np.array(images[np.random.default_rng(seed).permutation(len(images))[:num]])
    elif source.startswith(("folder:", "tfds:")):
        x = _load_data_spec(source, num, image_size, channels, seed, data_dir, crop)
    elif source.endswith(".npy"):
        x = imaging.resize(_load_array(source, num), image_size)
    else:
        x = np.stack([load_image_file(p, image_size, channels)
                      for p in _image_paths(source, num)])
    # Resampling round-off may step a hair outside [-1, 1] (1.0000002).
    x = np.clip(np.asarray(x, np.float32), -1.0, 1.0)
    return np.asarray(imaging.match_channels(x, channels), np.float32)

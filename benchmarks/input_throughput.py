"""Input-pipeline throughput of tfbegan.data.pipeline, one JSON line per source (issue 9, item 3).

Sources, all at ``--image_size`` (default 64) with the training batch (default 16):

* ``mnist5k``: the embedded digits (in memory; shuffled indices gathered per batch).
* ``folder``: ``--num_files`` blocky-noise JPEGs of 64..256 px (random aspect) in a
  temporary folder, decoded once into memory (the default below the cache limit);
  ``setup_s`` is that one-off decode.
* ``folder_streamed``: the same folder with caching off (``cache_limit_mb=0``):
  read, decode, centre-crop and resize every image every epoch.
* ``tfds``: a CelebA-shaped (218x178 JPEG) dataset written to real TFRecords with
  ``tfds.dataset_builders.store_as_tfds_dataset``, read through ``tfds.load`` with the
  ``celeba`` crop; cached after the resize (``tfds_streamed``: not cached).

Noise JPEGs compress poorly, so they decode more slowly than photographs of the same
size: the folder numbers are a lower bound. Issue 9 asks for >= 10x the training
images/s (a 64 px, 64-filter BEGAN step with batch 16 takes about 2 s on 2 CPU cores,
8 images/s).

Usage::

    python benchmarks/input_throughput.py [--image_size=64] [--batch_size=16]
        [--seconds=5] [--num_files=500]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from tfbegan.data.config import DataConfig
from tfbegan.data.pipeline import make_dataset


def _write_folder(root, num_files, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(num_files):
        height, width = rng.integers(64, 257, size=2)
        # Smooth noise (upsampled coarse noise) compresses like a photo more than
        # white noise does, while staying cheap to generate.
        coarse = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), np.uint8)
        image = np.kron(coarse, np.ones((8, 8, 1), np.uint8))[:height, :width]
        sub = os.path.join(root, f"d{i % 10}")
        os.makedirs(sub, exist_ok=True)
        Image.fromarray(image).save(os.path.join(sub, f"{i:05d}.jpg"), quality=90)


def _write_tfds(data_dir, num_examples, seed=0):
    import tensorflow_datasets as tfds

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (num_examples, 28, 23, 3), np.uint8)
    images = np.kron(coarse, np.ones((1, 8, 8, 1), np.uint8))[:, :218, :178]
    features = tfds.features.FeaturesDict(
        {"image": tfds.features.Image(shape=(218, 178, 3), encoding_format="jpeg")})
    tfds.dataset_builders.store_as_tfds_dataset(
        name="bench_faces", version="1.0.0", features=features,
        split_datasets={"train": tf.data.Dataset.from_tensor_slices({"image": images})},
        data_dir=data_dir)


def measure(name, config, batch_size, seconds, extra=None, warmup_batches=3):
    """Builds the dataset, warms it up, and times batches for ``seconds``.

    ``warmup_batches`` covers tracing and autotune's first guesses; for a lazily
    cached source pass one epoch's worth so the timing sees the filled cache.
    """
    start = time.perf_counter()
    ds = make_dataset(config, batch_size, seed=0)
    setup_s = time.perf_counter() - start
    iterator = iter(ds)
    warm = time.perf_counter()
    for _ in range(warmup_batches):
        next(iterator)
    warmup_s = time.perf_counter() - warm
    batches = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = next(iterator)
        batches += 1
    elapsed = time.perf_counter() - start
    row = {
        "benchmark": "input_throughput",
        "source": name,
        "dataset": config.dataset if not config.dataset.startswith("folder:")
        else "folder:<tmp>",
        "image_size": config.image_size,
        "batch_size": batch_size,
        "shape": list(batch.shape),
        "images_per_s": round(batches * batch_size / elapsed, 1),
        "batches": batches,
        "seconds": round(elapsed, 2),
        "setup_s": round(setup_s, 2),
        "warmup_s": round(warmup_s, 2),
        "cached": config.cache_limit_mb > 0,
        "cpus": os.cpu_count(),
    }
    row.update(extra or {})
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--num_files", type=int, default=500)
    parser.add_argument("--sources", default="mnist5k,folder,folder_streamed,tfds,"
                        "tfds_streamed")
    args = parser.parse_args(argv)
    sources = args.sources.split(",")
    size, batch, seconds = args.image_size, args.batch_size, args.seconds

    with tempfile.TemporaryDirectory() as tmp:
        if "mnist5k" in sources:
            measure("mnist5k", DataConfig(image_size=size), batch, seconds)
        if any(s.startswith("folder") for s in sources):
            folder = os.path.join(tmp, "images")
            _write_folder(folder, args.num_files)
            extra = {"num_files": args.num_files, "file_px": "64..256"}
            if "folder" in sources:
                measure("folder", DataConfig(f"folder:{folder}", image_size=size),
                        batch, seconds, extra)
            if "folder_streamed" in sources:
                measure("folder_streamed", DataConfig(f"folder:{folder}", image_size=size,
                                                      cache_limit_mb=0),
                        batch, seconds, extra)
        if any(s.startswith("tfds") for s in sources):
            data_dir = os.path.join(tmp, "tfds")
            _write_tfds(data_dir, args.num_files)
            extra = {"num_examples": args.num_files, "file_px": "218x178 jpeg"}
            if "tfds" in sources:
                measure("tfds", DataConfig("tfds:bench_faces", data_dir=data_dir,
                                           crop="celeba", image_size=size),
                        batch, seconds, extra, warmup_batches=args.num_files // batch + 2)
            if "tfds_streamed" in sources:
                measure("tfds_streamed", DataConfig("tfds:bench_faces", data_dir=data_dir,
                                                    crop="celeba", image_size=size,
                                                    cache_limit_mb=0),
                        batch, seconds, extra)


if __name__ == "__main__":
    main()

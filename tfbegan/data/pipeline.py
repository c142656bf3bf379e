"""Input pipelines: the embedded MNIST digits, TensorFlow Datasets, image folders.

Every source yields float32 batches ``[global_batch, S, S, C]`` scaled to [-1, 1]
(Berthelot et al. 2017, sec. 4: images in [-1, 1], the range of the generator's output), with
``drop_remainder`` so every step sees the same global batch, a seeded shuffle, repeat,
parallel decode / crop / resize, in-memory caching where the data fits, and prefetch.

Sources (``DataConfig.dataset``, grammar in ``tfbegan.config.parse_dataset_spec``):

* ``mnist5k``: the 5,000 MNIST digits shipped in this package
  (:mod:`tfbegan.data.mnist5k`).
* ``tfds:NAME[:SPLIT]``: ``tfds.load(NAME, split=SPLIT, data_dir=, download=)``,
  its ``image`` feature.
* ``folder:PATH``: every ``.jpg/.jpeg/.png/.bmp/.gif`` under PATH, recursively,
  decoded by ``tfbegan.data.decode`` (transparency composited onto
  ``DataConfig.background``, 16-bit grey scaled, the run's channels); channels and
  size the user leaves None are chosen from the images (``tfbegan.data.survey``).

Example::

    from tfbegan.data.config import DataConfig

    from tfbegan.data.pipeline import make_dataset
    ds = make_dataset(DataConfig("folder:/data/celeba", crop="celeba", image_size=64),
                      global_batch_size=16, seed=0)
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from tfbegan import imaging
from tfbegan.checks import check_range
from tfbegan.data import tfds_source
from tfbegan.data.config import DataConfig
from tfbegan.data.decode import DecodeSettings, decode_file
from tfbegan.data.folders import (
    check_files_pil,
    decode_in_memory,
    list_image_files,
    log_skipped,
)
from tfbegan.data.mnist5k import (
    MNIST5K_COUNT,
    load_mnist5k,
)
from tfbegan.data.survey import resolve_folder

__all__ = ["DEFAULT_IMAGE_SIZE", "fixed_real_batch", "make_dataset", "num_channels",
           "num_examples", "resolve"]

#: ``image_size=None`` for ``mnist5k`` and tfds, whose images are not inspected.
DEFAULT_IMAGE_SIZE = 32

logger = logging.getLogger(__name__)

def _estimated_bytes(count, image_size, channels):
    return int(count) * image_size * image_size * channels


def _cache_fits(data_config, count, channels):
    limit = data_config.cache_limit_mb * 2**20
    return count is not None and _estimated_bytes(
        count, data_config.image_size, channels) <= limit


def _source_channels(data_config):
    """Channels the source stores: 1 for ``mnist5k``; for tfds, the last dimension of
    the builder's ``image`` feature (metadata only, no download), falling back to a
    table of common datasets (mnist 1, cifar10 3, celeb_a 3, ...); a folder decodes to
    ``data_config.channels`` directly."""
    kind, target, _ = data_config.source
    if kind == "mnist5k":
        return 1
    if kind == "folder":
        return data_config.channels
    return tfds_source.channels(target, data_config.data_dir)


def resolve(data_config: DataConfig) -> DataConfig:
    """``data_config`` with a concrete ``image_size`` and ``channels``.

    Where None: a folder's are chosen from its images and said in one log line
    (``tfbegan.data.survey.resolve_folder``); ``mnist5k`` and tfds take
    ``DEFAULT_IMAGE_SIZE`` and the channels they store. Given values are kept.
    """
    if data_config.image_size is not None and data_config.channels is not None:
        return data_config
    kind, target, _ = data_config.source
    if kind == "folder":
        return resolve_folder(data_config, list_image_files(target))
    return data_config.replace(
        image_size=data_config.image_size or DEFAULT_IMAGE_SIZE,
        channels=data_config.channels or _source_channels(data_config))


def num_channels(data_config: DataConfig) -> int:
    """Channel count C of the images ``make_dataset`` yields: ``channels`` when given,
    else the source's (a folder: 3 when any inspected image is colour, else 1; see
    :func:`resolve`)."""
    return resolve(data_config).channels


def _match_uint8(image, channels):
    """uint8 ``[..., C]`` with ``channels`` channels (:func:`imaging.match_channels`)."""
    if image.shape[-1] == channels:
        return image
    image = imaging.match_channels(tf.cast(image, tf.float32), channels)
    return tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)


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
    return tfds_source.num_examples(target, split, data_config.data_dir)


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
        # N replicas see the same batches (tests/cli/test_train_cli.py).
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
                               scale=lambda x: imaging.match_channels(x, data_config.channels))


def _folder_in_memory(data_config, paths):
    """The folder's images, uint8 ``[N, S, S, C]``, decoded once per process."""
    folder = data_config.source[1]
    images, _ = decode_in_memory(paths, DecodeSettings.from_config(data_config),
                                 folder=folder)
    if not len(images):
        raise ValueError(f"dataset folder {folder!r}: none of its {len(paths)} image "
                         f"files can be decoded.")
    return images


def _folder_streamable(data_config, paths):
    """``paths`` less those PIL cannot parse (named in one warning)."""
    folder = data_config.source[1]
    bad = check_files_pil(paths)
    log_skipped(folder, bad, len(paths))
    bad_set = set(bad)
    paths = [p for p in paths if p not in bad_set]
    if not paths:
        raise ValueError(f"dataset folder {folder!r}: none of its image files can be "
                         f"decoded.")
    return paths


def _folder_dataset(data_config, global_batch_size, seed, shuffle, repeat):
    paths = list_image_files(data_config.source[1])
    settings = DecodeSettings.from_config(data_config)
    if _cache_fits(data_config, len(paths), settings.channels):
        images = _folder_in_memory(data_config, paths)
        _check_batch(global_batch_size, len(images), data_config.dataset)
        return _batches_from_array(images, global_batch_size, seed, shuffle, repeat,
                                   scale=imaging.from_uint8)
    paths = _folder_streamable(data_config, paths)
    _check_batch(global_batch_size, len(paths), data_config.dataset)
    ds = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle:
        # A full shuffle of the file names is cheap; decoded images are never buffered.
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda p: decode_file(p, settings), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    # Safety net for files whose header passed PIL but whose body fails to decode
    # (e.g. a truncated JPEG): tf.data logs the error and drops the element.
    ds = ds.ignore_errors(log_warning=True)
    ds = ds.batch(global_batch_size, drop_remainder=True)
    return ds.map(imaging.from_uint8, num_parallel_calls=tf.data.AUTOTUNE)


def _tfds_dataset(data_config, global_batch_size, seed, shuffle, repeat):
    _, name, split = data_config.source
    ds = tfds_source.load(name, split, data_config.data_dir, data_config.download,
                          shuffle, seed)
    count = num_examples(data_config)
    if count is None:
        cardinality = int(ds.cardinality())
        count = cardinality if cardinality >= 0 else None
    channels = data_config.channels
    _check_batch(global_batch_size, count, data_config.dataset)
    stored = DecodeSettings.from_config(data_config.replace(
        channels=_source_channels(data_config)))

    def square(example):
        image = imaging.square_uint8(example["image"], stored.image_size, stored.resize,
                                     stored.crop, stored.fill)
        return _match_uint8(image, channels)

    ds = ds.map(square, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if _cache_fits(data_config, count, channels):
        ds = ds.cache()
    if shuffle:
        buffer = min(count or data_config.shuffle_buffer, data_config.shuffle_buffer)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(global_batch_size, drop_remainder=True)
    return ds.map(imaging.from_uint8, num_parallel_calls=tf.data.AUTOTUNE)


def _checked(data_config, count_name, count, seed):
    """``(resolved data_config, source kind)`` after checking the arguments every
    reader takes (one line naming the bad value)."""
    if not isinstance(data_config, DataConfig):
        raise ValueError(f"data_config={data_config!r} must be a tfbegan.data.pipeline.DataConfig.")
    check_range(count_name, count, 1, integer=True)
    check_range("seed", seed, 0, 2**63 - 1, integer=True)
    data_config = resolve(data_config)
    return data_config, data_config.source[0]


def make_dataset(data_config: DataConfig, global_batch_size: int, seed: int = 0,
                 shuffle: bool = True, repeat: bool = True) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of float32 ``[global_batch_size, S, S, C]`` in [-1, 1].

    ``S`` and ``C``: ``data_config``'s ``image_size`` and ``channels``, chosen from the
    data where None (:func:`resolve`). Batches are the
    *global* batch (a distribution strategy splits them across replicas) and drop the
    remainder, so every step has the same shape (Berthelot et al. 2017 trains with batch 16).

    Pipeline per source:

    * ``mnist5k``: ``load_mnist5k`` in memory; shuffled indices gathered per batch.
    * ``folder:PATH``: PIL decode (``tfbegan.data.decode``: transparency onto
      ``background``, 16-bit scaled, grey or RGB as ``channels``), square (``resize``:
      ``crop`` with ``crop`` = ``center``, the largest centred square, or ``celeba``,
      the ``tfbegan.imaging.CELEBA_BOX`` face box, 128x128 at row 50, column 25 of
      218x178, scaled for other sizes; ``pad``; ``stretch``), resize (antialiased
      bilinear), uint8, in parallel. When the decoded set is at most ``cache_limit_mb``
      (default 1 GiB; ``N * S * S * C`` bytes), every file is decoded once into memory
      at construction; unreadable files are found exactly (their indices vanish from an
      ``ignore_errors`` pass) and logged with their names. Larger folders are streamed:
      a PIL header/``verify`` pass up front (about 0.1 ms a file) names and drops files
      that are not images; files that pass it but fail a full decode (a truncated JPEG
      body) are dropped by ``ignore_errors`` with TensorFlow's warning. Both paths raise
      ``ValueError`` naming the folder when it is missing, empty or holds no readable
      image.
    * ``tfds:NAME[:SPLIT]``: ``tfds.load`` with ``data_dir`` and ``download``; the
      ``image`` feature, squared and resized like folders (channels converted when
      ``channels`` differs from the stored ones); ``.cache()`` after the
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
    data_config, kind = _checked(data_config, "global_batch_size", global_batch_size, seed)
    builders = {"mnist5k": _mnist5k_dataset, "folder": _folder_dataset,
                "tfds": _tfds_dataset}
    ds = builders[kind](data_config, global_batch_size, seed, bool(shuffle), bool(repeat))
    return _finish(ds)


def _choice(count, num, seed):
    """``min(num, count)`` distinct indices, a seeded permutation's head."""
    return np.random.default_rng(seed).permutation(count)[:num]


def _folder_real_batch(data_config, num, seed):
    paths = list_image_files(data_config.source[1])
    settings = DecodeSettings.from_config(data_config)
    if _cache_fits(data_config, len(paths), settings.channels):
        # The same decoded array the training pipeline uses: no second decode.
        images = _folder_in_memory(data_config, paths)
        return imaging.from_uint8(images[np.sort(_choice(len(images), num, seed))])
    paths = _folder_streamable(data_config, paths)
    chosen = []
    # Too large to hold: decode only the chosen files (and the next ones in the
    # seeded order when a chosen file's body turns out to be corrupt).
    for i in _choice(len(paths), len(paths), seed):
        try:
            chosen.append(decode_file(tf.constant(paths[i]), settings))
        except (ValueError, tf.errors.OpError):  # read_pixels names the file
            continue
        if len(chosen) == num:
            break
    if not chosen:
        raise ValueError(f"dataset folder {data_config.source[1]!r}: none of its image "
                         f"files can be decoded.")
    return imaging.from_uint8(tf.stack(chosen)).numpy()


def fixed_real_batch(data_config: DataConfig, num: int = 16, seed: int = 0) -> np.ndarray:
    """A fixed set of ``min(num, N)`` real images: float32 ``[n, S, S, C]`` in [-1, 1].

    For the statistics and figures that compare against one fixed real batch (the
    reconstruction distances of Vertolli & Davies 2017, Table 2; reconstruction
    grids): a dataset smaller than ``num`` gives all of its N images instead of
    failing, whatever the training batch size. The choice is seeded:

    * ``mnist5k``: ``num`` of the 5,000 digits (a seeded permutation, so every
      class can appear; the rows are sorted by class).
    * ``folder:PATH``: ``num`` images of the in-memory copy that :func:`make_dataset`
      decodes, shared, so the folder is decoded once per process; a folder too large
      for ``cache_limit_mb`` decodes the ``num`` chosen files only.
    * ``tfds:NAME[:SPLIT]``: the first ``num`` of a seeded shuffle.

    Raises:
      ValueError: an out-of-range argument, or the errors of :func:`make_dataset`
        (missing folder, unprepared tfds data).
    """
    data_config, kind = _checked(data_config, "num", num, seed)
    if kind == "mnist5k":
        images, _ = load_mnist5k(data_config.image_size)
        images = images[np.sort(_choice(len(images), num, seed))]
        return np.array(imaging.match_channels(images, data_config.channels), np.float32)
    if kind == "folder":
        return _folder_real_batch(data_config, num, seed)
    ds = make_dataset(data_config, 1, seed=seed, shuffle=True, repeat=False)
    return np.concatenate([b.numpy() for b in ds.take(num)], axis=0)

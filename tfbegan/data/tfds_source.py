"""TensorFlow Datasets as an image source: builders, metadata, loading, messages.

``tensorflow_datasets`` is imported only when a ``tfds:`` dataset is used (its import
takes seconds). Every user-caused failure (tfds not installed, an unknown builder
name, data not prepared while downloads are off, a split that does not exist)
becomes a one-line ``ValueError`` naming the dataset.
"""

from __future__ import annotations

import glob
import os
import socket
import time

__all__ = ["TFDS_CHANNELS", "builder", "channels", "import_tfds", "load", "num_examples"]

# Channels of common tfds image datasets, used only when the builder's metadata cannot
# be read (e.g. a tfds version without that builder).
TFDS_CHANNELS = {
    "mnist": 1, "fashion_mnist": 1, "kmnist": 1, "emnist": 1, "binarized_mnist": 1,
    "cifar10": 3, "cifar100": 3, "celeb_a": 3, "celeb_a_hq": 3, "svhn_cropped": 3,
    "lsun": 3, "stl10": 3, "imagenet2012": 3, "imagenet_resized": 3, "tf_flowers": 3,
    "oxford_flowers102": 3, "downsampled_imagenet": 3,
}


def import_tfds():
    """The ``tensorflow_datasets`` module (a one-line ValueError when missing)."""
    try:
        import tensorflow_datasets as tfds  # slow import: tfds sources only
    except ImportError as e:
        raise ValueError("dataset='tfds:...' needs TensorFlow Datasets; install it with "
                         "`pip install tensorflow-datasets importlib_resources`.") from e
    return tfds


def builder(name, data_dir):
    """``tfds.builder(name)``; an unknown name is a one-line ValueError."""
    tfds = import_tfds()
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"dataset='tfds:{name}': no TensorFlow Datasets builder named "
                         f"{name!r}; see https://www.tensorflow.org/datasets/catalog "
                         f"for the names.") from None


def not_prepared(name, data_dir):
    """The error for data that is not prepared while downloads are off."""
    where = data_dir or "~/tensorflow_datasets"
    return ValueError(
        f"tfds dataset {name!r} is not prepared in {where}; rerun with --download "
        f"(DataConfig(download=True)) or prepare it first: "
        f"`tfds build {name} --data_dir={where}`.")


def channels(target, data_dir):
    """The last dimension of the builder's ``image`` feature (metadata only, no
    download), falling back to ``TFDS_CHANNELS`` when the metadata is unreadable."""
    base = target.split("/")[0]
    try:
        image = builder(target, data_dir).info.features["image"]
        count = image.shape[-1]
        if count:
            return int(count)
    except ValueError:
        if base not in TFDS_CHANNELS:
            raise
    except Exception:  # metadata unreadable: use the table
        pass
    if base in TFDS_CHANNELS:
        return TFDS_CHANNELS[base]
    raise ValueError(f"dataset='tfds:{target}': cannot tell its channel count (no "
                     f"fixed-shape 'image' feature); use a dataset with images.")


def num_examples(target, split, data_dir):
    """The split's ``num_examples`` from the prepared metadata, None if unknown."""
    try:
        count = builder(target, data_dir).info.splits[split].num_examples
    except Exception:  # metadata unreadable: the count is unknown
        return None
    return int(count) or None


#: Where most tfds archives come from; reached before a download starts so that an
#: offline machine fails in seconds instead of retrying for minutes.
PROBE_HOST = ("storage.googleapis.com", 443)
PROBE_TIMEOUT_S = 5.0


def offline_message(name, reason, fetching=False):
    """The one line for a download that cannot start (or failed while fetching)."""
    doing = "failed while fetching from" if fetching else "cannot reach"
    return (f"dataset='tfds:{name}' is not prepared and --download {doing} "
            f"{PROBE_HOST[0]} ({reason}): use the embedded digits (--dataset=mnist5k), "
            f"a folder of images (--dataset=folder:PATH), or prepare it on a machine "
            f"with network (`tfds build {name}`) and pass its directory as --data_dir.")


def check_network(name):
    """Raises a one-line ValueError when the download host cannot be reached.

    Skipped behind a proxy (HTTPS_PROXY / HTTP_PROXY), which a direct connection
    would not use."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                                        "http_proxy")):
        return
    try:
        socket.create_connection(PROBE_HOST, timeout=PROBE_TIMEOUT_S).close()
    except OSError as e:
        raise ValueError(offline_message(name, e.strerror or type(e).__name__)) from None


def _remove_partial_downloads(data_dir, since):
    """Deletes the ``*.tmp.*`` files a failed download left in ``data_dir/downloads``
    (only those written since ``since``, a ``time.time()``)."""
    root = os.path.join(os.path.expanduser(data_dir or "~/tensorflow_datasets"), "downloads")
    for path in glob.glob(os.path.join(root, "**", "*.tmp.*"), recursive=True):
        try:
            if os.path.isfile(path) and os.path.getmtime(path) >= since - 1:
                os.remove(path)
        except OSError:
            pass  # gone already, or not ours to remove


def load(name, split, data_dir, download, shuffle, seed):
    """``tfds.load`` of an image dataset, its failures as one-line ValueErrors.

    With ``download`` and the data not prepared, the network is checked first
    (:func:`check_network`: tfds itself retries for minutes offline), and a download
    that fails is one line and leaves no partial files."""
    tfds = import_tfds()
    ds_builder = builder(name, data_dir)
    features = ds_builder.info.features
    if "image" not in features:
        raise ValueError(f"dataset='tfds:{name}' has no 'image' feature (it has "
                         f"{sorted(features.keys())}); use an image dataset.")
    fetching = download and not ds_builder.is_prepared()
    if fetching:
        check_network(name)
    started = time.time()
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=download,
                         shuffle_files=shuffle, read_config=tfds.ReadConfig(shuffle_seed=seed))
    except AssertionError as e:
        # tfds reports "could not find data in DIR" for an unprepared dataset this way.
        if "download_and_prepare" in str(e) or "could not find data" in str(e):
            raise not_prepared(name, data_dir) from None
        raise
    except (ValueError, KeyError) as e:
        raise ValueError(f"dataset='tfds:{name}:{split}': {str(e).splitlines()[0]}") from None
    except Exception as e:
        if not fetching:
            raise
        _remove_partial_downloads(data_dir, started)
        first = (str(e).splitlines() or [""])[0][:200]
        raise ValueError(offline_message(name, f"{type(e).__name__}: {first}",
                                         fetching=True)) from None

"""Tests for tfbegan.data.pipeline: embedded digits, image folders, tfds (mocked, offline)."""

import io
import logging
import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfbegan.data import mnist5k
from tfbegan.data import pipeline as data_lib
from tfbegan.data.config import DataConfig
from tfbegan.data.mnist5k import load_mnist5k
from tfbegan.data.pipeline import make_dataset, num_channels


def _batches(ds, limit=None):
    out = []
    for i, batch in enumerate(ds):
        if limit is not None and i >= limit:
            break
        out.append(batch.numpy())
    return out


def _raw_digits():
    """The packaged file read independently of tfbegan: uint8 [5000, 28, 28], labels."""
    with np.load(mnist5k._FILE) as f:
        return f["images"], f["labels"]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"test tried to reach the network: {address!r}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


# ----------------------------------------------------------------------- mnist5k


def test_mnist5k_shapes_range_labels():
    images, labels = load_mnist5k(32)
    assert images.shape == (5000, 32, 32, 1) and images.dtype == np.float32
    assert labels.shape == (5000,) and labels.dtype == np.int32
    assert images.min() == -1.0 and images.max() == 1.0
    # The wheel holds exactly 500 digits of each class, rows sorted by class.
    np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 500))
    assert not images.flags.writeable  # shared in-process cache
    assert load_mnist5k(32)[0] is images  # decoded once


def test_mnist5k_refuses_a_file_that_is_not_the_shipped_one(tmp_path, monkeypatch):
    images, labels = _raw_digits()
    images = images.copy()
    images[0, 0, 0] ^= 1
    bad = tmp_path / "mnist5k.npz"
    np.savez_compressed(bad, images=images, labels=labels)
    monkeypatch.setattr(mnist5k, "_FILE", bad)
    mnist5k._mnist5k_raw.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"mnist5k.npz holds other images"):
            mnist5k._mnist5k_raw()
        bad.write_bytes(b"not a zip")
        with pytest.raises(ValueError, match=r"cannot read .*mnist5k.npz"):
            mnist5k._mnist5k_raw()
    finally:
        mnist5k._mnist5k_raw.cache_clear()


def test_mnist5k_padding_keeps_digit_centred():
    images, _ = load_mnist5k(32)
    raw, _ = _raw_digits()
    # 2 px of background (-1) on every side, the 28x28 digit unchanged inside.
    assert np.all(images[:, :2] == -1) and np.all(images[:, 30:] == -1)
    assert np.all(images[:, :, :2] == -1) and np.all(images[:, :, 30:] == -1)
    np.testing.assert_allclose(images[:, 2:30, 2:30, 0],
                               raw.astype(np.float32) / 127.5 - 1.0, atol=1e-6)
    # Ink centroid of the mean digit is near the frame centre (15.5, 15.5).
    ink = (images[..., 0] + 1.0).mean(axis=0)
    rows, cols = np.indices(ink.shape)
    cy, cx = (ink * rows).sum() / ink.sum(), (ink * cols).sum() / ink.sum()
    assert abs(cy - 15.5) < 1.0 and abs(cx - 15.5) < 1.0


def test_mnist5k_other_sizes():
    x32, _ = load_mnist5k(32)
    x16, _ = load_mnist5k(16)
    x64, labels = load_mnist5k(64)
    assert x16.shape == (5000, 16, 16, 1) and x64.shape == (5000, 64, 64, 1)
    assert load_mnist5k(8)[0].shape == (5000, 8, 8, 1)
    assert labels.shape == (5000,)
    for x in (x16, x64):
        assert x.min() >= -1.0 and x.max() <= 1.0
        # Antialiased resizing preserves the mean brightness of every digit.
        np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), x32.mean(axis=(1, 2, 3)),
                                   atol=2e-3)
    with pytest.raises(ValueError, match="image_size=0"):
        load_mnist5k(0)


def test_mnist5k_dataset_batches_and_determinism():
    config = DataConfig(image_size=32)
    first = _batches(make_dataset(config, 16, seed=3), limit=3)
    again = _batches(make_dataset(config, 16, seed=3), limit=3)
    other = _batches(make_dataset(config, 16, seed=4), limit=3)
    assert first[0].shape == (16, 32, 32, 1) and first[0].dtype == np.float32
    assert all(b.min() >= -1 and b.max() <= 1 for b in first)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])

    images, _ = load_mnist5k(32)
    ordered = _batches(make_dataset(config, 16, shuffle=False), limit=1)[0]
    np.testing.assert_array_equal(ordered, images[:16])

    # One epoch, drop_remainder: 5000 // 16 = 312 full batches; with batch 8 the
    # shuffled epoch is a permutation of all 5000 digits.
    epoch = _batches(make_dataset(config, 16, repeat=False))
    assert len(epoch) == 312
    epoch8 = np.concatenate(_batches(make_dataset(config, 8, repeat=False)))
    assert epoch8.shape[0] == 5000
    np.testing.assert_allclose(np.sort(epoch8.sum(axis=(1, 2, 3))),
                               np.sort(images.sum(axis=(1, 2, 3))), rtol=1e-6)
    assert not np.array_equal(epoch8[:8], images[:8])


def test_batch_larger_than_dataset_is_rejected():
    with pytest.raises(ValueError, match="global_batch_size=5001 exceeds the 5000"):
        make_dataset(DataConfig(), 5001)
    with pytest.raises(ValueError, match="global_batch_size=0"):
        make_dataset(DataConfig(), 0)


# -------------------------------------------------------------------- DataConfig


@pytest.mark.parametrize("spec, fragment", [
    ("celeba", "tfds:celeba"),
    ("foo:bar", "allowed forms"),
    ("", "allowed forms"),
    ("tfds:", "not a tfds dataset name"),
    ("tfds:bad name", "not a tfds dataset name"),
    ("folder:", "names no folder"),
])
def test_data_config_rejects_bad_specs(spec, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        DataConfig(dataset=spec)
    assert repr(spec) in str(info.value)


def test_data_config_parsing_and_ranges():
    assert DataConfig("tfds:mnist:train[:10%]").source == ("tfds", "mnist", "train[:10%]")
    assert DataConfig("tfds:celeb_a").source == ("tfds", "celeb_a", "train")
    assert DataConfig("folder:/a:b").source == ("folder", "/a:b", None)
    assert DataConfig().source == ("mnist5k", None, None)
    with pytest.raises(ValueError, match="crop='square'"):
        DataConfig(crop="square")
    with pytest.raises(ValueError, match="crop='celeba'"):
        DataConfig(crop="celeba")  # mnist5k is padded, not cropped
    with pytest.raises(ValueError, match="image_size=0"):
        DataConfig(image_size=0)
    with pytest.raises(ValueError, match="download='yes'"):
        DataConfig(download="yes")
    with pytest.raises(ValueError, match="cache_limit_mb=4096"):
        DataConfig(cache_limit_mb=4096)
    assert num_channels(DataConfig()) == 1
    assert num_channels(DataConfig("folder:/anywhere", channels=3)) == 3  # no listing


# ------------------------------------------------------------------------ folders


def _save(path, array, fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path, fmt)


def _three_stripes(height=40, width=60):
    """Red | green | blue columns; a centre crop keeps only green."""
    image = np.zeros((height, width, 3), np.uint8)
    side = min(height, width)
    left = (width - side) // 2
    image[:, :left] = (255, 0, 0)
    image[:, left:left + side] = (0, 255, 0)
    image[:, left + side:] = (0, 0, 255)
    return image


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "images"
    _save(str(root / "a_stripes.png"), _three_stripes())
    _save(str(root / "sub" / "b_grey.PNG"), np.full((30, 30), 51, np.uint8))
    _save(str(root / "sub" / "deeper" / "c_rgb.jpeg"),
          np.full((48, 32, 3), (200, 100, 50), np.uint8), "JPEG")
    _save(str(root / "sub" / "d_grey.JPG"), np.full((20, 20), 128, np.uint8), "JPEG")
    (root / "sub" / "broken.png").write_bytes(b"this is not an image")
    (root / "notes.txt").write_text("ignored: not an image extension")
    return root


@pytest.mark.parametrize("cache_limit_mb", [1024, 0], ids=["in_memory", "streamed"])
def test_folder_skips_and_names_corrupt_files(image_folder, caplog, cache_limit_mb):
    config = DataConfig(f"folder:{image_folder}", image_size=16,
                        cache_limit_mb=cache_limit_mb)
    with caplog.at_level(logging.WARNING, logger="tfbegan.data.pipeline"):
        ds = make_dataset(config, 1, shuffle=False, repeat=False)
    assert "Skipping 1 of 5" in caplog.text
    assert os.path.join("sub", "broken.png") in caplog.text
    images = np.concatenate(_batches(ds))
    # Sorted paths: a_stripes.png, sub/b_grey.PNG, sub/d_grey.JPG, sub/deeper/c_rgb.jpeg.
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.float32
    # Centre crop of the stripes keeps only the green square: exact after resizing.
    np.testing.assert_allclose(images[0], np.broadcast_to([-1.0, 1.0, -1.0], (16, 16, 3)),
                               atol=1e-6)
    # Grey PNG value 51 -> RGB with all three channels 51 / 127.5 - 1 = -0.6.
    np.testing.assert_allclose(images[1], -0.6, atol=1e-6)
    # Grey JPEG: channels equal (grey -> RGB), near 128 / 127.5 - 1.
    assert np.all(images[2][..., 0] == images[2][..., 1])
    assert np.all(images[2][..., 1] == images[2][..., 2])
    np.testing.assert_allclose(images[2], 128 / 127.5 - 1, atol=0.02)
    # Flat RGB JPEG survives within JPEG error.
    np.testing.assert_allclose(images[3].mean(axis=(0, 1)),
                               np.array([200, 100, 50]) / 127.5 - 1, atol=0.03)


def test_folder_truncated_jpeg_named_when_decoded_in_memory(tmp_path, caplog):
    root = tmp_path / "trunc"
    _save(str(root / "good.png"), np.zeros((8, 8, 3), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buf, "JPEG")
    (root / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with caplog.at_level(logging.WARNING, logger="tfbegan.data.pipeline"):
        ds = make_dataset(DataConfig(f"folder:{root}", image_size=8), 1, repeat=False)
    assert "Skipping 1 of 2" in caplog.text and "cut.jpg" in caplog.text
    assert len(_batches(ds)) == 1


def test_folder_celeba_crop_box(tmp_path):
    # A 218x178 image whose CelebA face box (rows 50..177, columns 25..152) is 200 and
    # everything else 10, and the same at twice the size: both crop to pure 200.
    for scale in (1, 2):
        image = np.full((218 * scale, 178 * scale, 3), 10, np.uint8)
        image[50 * scale:178 * scale, 25 * scale:153 * scale] = 200
        _save(str(tmp_path / "faces" / f"face{scale}.png"), image)
    config = DataConfig(f"folder:{tmp_path / 'faces'}", crop="celeba", image_size=16)
    images = np.concatenate(_batches(make_dataset(config, 2, shuffle=False, repeat=False)))
    np.testing.assert_allclose(images, 200 / 127.5 - 1, atol=1e-6)
    centre = DataConfig(f"folder:{tmp_path / 'faces'}", crop="center", image_size=16)
    images = np.concatenate(_batches(make_dataset(centre, 2, shuffle=False, repeat=False)))
    assert images.min() < 0  # the centre square includes the background rows


def test_folder_shuffle_is_seeded(image_folder):
    config = DataConfig(f"folder:{image_folder}", image_size=8)
    a = _batches(make_dataset(config, 2, seed=1), limit=6)
    b = _batches(make_dataset(config, 2, seed=1), limit=6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert all(x.shape == (2, 8, 8, 3) for x in a)


def test_folder_errors(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match="does not exist") as info:
        make_dataset(DataConfig(f"folder:{missing}"), 2)
    assert str(missing) in str(info.value)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="holds no image files") as info:
        make_dataset(DataConfig(f"folder:{empty}"), 2)
    assert str(empty) in str(info.value)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.jpg").write_bytes(b"garbage")
    for limit in (1024, 0):
        with pytest.raises(ValueError, match="none of its") as info:
            make_dataset(DataConfig(f"folder:{junk}", cache_limit_mb=limit), 1)
        assert str(junk) in str(info.value)
    with pytest.raises(ValueError, match="global_batch_size=5 exceeds the 4"):
        good = tmp_path / "four"
        for i in range(4):
            _save(str(good / f"{i}.png"), np.zeros((8, 8, 3), np.uint8))
        make_dataset(DataConfig(f"folder:{good}", image_size=8), 5)


# --------------------------------------------------------------------------- tfds


def test_tfds_mock_mnist_and_cifar10(tmp_path, no_network):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=12):
        config = DataConfig("tfds:mnist", data_dir=str(tmp_path), image_size=16)
        assert num_channels(config) == 1
        batches = _batches(make_dataset(config, 4, seed=0), limit=5)
        assert all(b.shape == (4, 16, 16, 1) and b.dtype == np.float32 for b in batches)
        assert all(b.min() >= -1 and b.max() <= 1 for b in batches)
        assert len(_batches(make_dataset(config, 5, repeat=False))) == 2  # 12 // 5
        with pytest.raises(ValueError, match="global_batch_size=13 exceeds the 12"):
            make_dataset(config, 13)
        cifar = DataConfig("tfds:cifar10:test", data_dir=str(tmp_path), image_size=8)
        assert num_channels(cifar) == 3
        batch = _batches(make_dataset(cifar, 3), limit=1)[0]
        assert batch.shape == (3, 8, 8, 3)


def test_tfds_not_prepared_is_one_line(tmp_path, no_network):
    pytest.importorskip("tensorflow_datasets")
    config = DataConfig("tfds:mnist", data_dir=str(tmp_path), download=False)
    with pytest.raises(ValueError, match="not prepared") as info:
        make_dataset(config, 4)
    message = str(info.value)
    assert "\n" not in message
    assert "--download" in message and f"tfds build mnist --data_dir={tmp_path}" in message


def test_download_offline_is_one_line_within_seconds(tmp_path, monkeypatch):
    """Offline, --download used to retry for 3.5 minutes and print 247 lines."""
    tfds = pytest.importorskip("tensorflow_datasets")
    from tfbegan.data import tfds_source

    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    probed = []

    def unreachable(address, timeout=None):
        probed.append((address, timeout))
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(tfds_source.socket, "create_connection", unreachable)
    monkeypatch.setattr(tfds, "load", lambda *a, **k: pytest.fail("tfds.load was called"))
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        make_dataset(DataConfig("tfds:mnist", data_dir=str(tmp_path), download=True), 4)
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("dataset='tfds:mnist' is not prepared and --download cannot "
                              "reach storage.googleapis.com (Network is unreachable): use "
                              "the embedded digits (--dataset=mnist5k)"), message
    assert probed == [(("storage.googleapis.com", 443), 5.0)]


def test_failed_download_leaves_no_partial_files(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from tfbegan.data import tfds_source

    monkeypatch.setattr(tfds_source, "check_network", lambda name: None)
    partial = tmp_path / "downloads" / "extracted" / "mnist.gz.tmp.3f2a"
    older = tmp_path / "downloads" / "someone_elses.tmp.1"
    older.parent.mkdir(parents=True)
    older.write_text("x")
    os.utime(older, (1, 1))

    def failing_load(*args, **kwargs):
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"half")
        raise ConnectionError("Connection reset by peer\n(and 50 more lines)")

    monkeypatch.setattr(tfds, "load", failing_load)
    with pytest.raises(ValueError, match=r"failed while fetching from "
                                         r"storage.googleapis.com \(ConnectionError: "
                                         r"Connection reset by peer\)"):
        make_dataset(DataConfig("tfds:mnist", data_dir=str(tmp_path), download=True), 4)
    assert not partial.exists() and older.exists()


def test_tfds_unknown_name(no_network):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(ValueError, match="no TensorFlow Datasets builder named"):
        make_dataset(DataConfig("tfds:no_such_dataset_xyz"), 4)


def test_tfds_real_records_celeba_crop(tmp_path, no_network):
    """A CelebA-shaped dataset stored as real TFRecords, read with the celeba box."""
    tfds = pytest.importorskip("tensorflow_datasets")
    images = np.full((6, 218, 178, 3), 10, np.uint8)
    images[:, 50:178, 25:153] = 200  # CELEBA_BOX: rows 50..177, columns 25..152
    images[:, 50:178, 25:153, 2] = np.arange(6, dtype=np.uint8)[:, None, None] * 40
    features = tfds.features.FeaturesDict(
        {"image": tfds.features.Image(shape=(218, 178, 3), encoding_format="png")})
    tfds.dataset_builders.store_as_tfds_dataset(
        name="tiny_faces", version="1.0.0", features=features,
        split_datasets={"train": tf.data.Dataset.from_tensor_slices({"image": images})},
        data_dir=str(tmp_path))
    config = DataConfig("tfds:tiny_faces", data_dir=str(tmp_path), crop="celeba",
                        image_size=8)
    assert data_lib.num_examples(config) == 6 and num_channels(config) == 3
    epoch = np.concatenate(_batches(make_dataset(config, 3, seed=5, repeat=False)))
    assert epoch.shape == (6, 8, 8, 3)
    np.testing.assert_allclose(epoch[..., :2], 200 / 127.5 - 1, atol=1e-6)
    # Each record once per epoch: the blue channels are 0, 40, ..., 200 in some order.
    np.testing.assert_allclose(np.sort(epoch[:, 0, 0, 2]),
                               np.arange(6) * 40 / 127.5 - 1, atol=1e-6)
    again = np.concatenate(_batches(make_dataset(config, 3, seed=5, repeat=False)))
    np.testing.assert_array_equal(epoch, again)
    with pytest.raises(ValueError, match="global_batch_size=7 exceeds the 6"):
        make_dataset(config, 7)


@pytest.mark.parametrize("source", ["mnist5k", "folder_streamed"])
def test_distributed_dataset_splits_global_batch(two_replica_strategy, image_folder,
                                                 source):
    if source == "mnist5k":
        config = DataConfig(image_size=8)
    else:
        config = DataConfig(f"folder:{image_folder}", image_size=8, cache_limit_mb=0)
    ds = make_dataset(config, 4, seed=0)
    dist = two_replica_strategy.experimental_distribute_dataset(ds)
    per_replica = next(iter(dist))
    parts = two_replica_strategy.experimental_local_results(per_replica)
    assert len(parts) == 2
    assert all(p.shape[0] == 2 and p.shape[1:3] == (8, 8) for p in parts)


def test_datasets_turn_tf_data_autotuning_off():
    """Autotuning's optimisation thread made each fit() call end on a doubling tick
    (2.55 s, 5.11 s, 10.23 s, ...; docs/benchmarks.md), so every source turns it off."""
    config = DataConfig(image_size=16)
    for kwargs in ({}, {"repeat": False}, {"shuffle": False}):
        ds = make_dataset(config, 8, **kwargs)
        assert ds.options().autotune.enabled is False, kwargs
        assert ds.options().experimental_distribute.auto_shard_policy == (
            tf.data.experimental.AutoShardPolicy.DATA)

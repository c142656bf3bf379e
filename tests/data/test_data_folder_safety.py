"""Image folders: symlinks never lead out of the folder or loop, the folder is decoded
once per process, and fixed_real_batch never asks for more images than there are."""

import logging
import os

import numpy as np
import pytest
from PIL import Image

from tfbegan.data import folders, mnist5k
from tfbegan.data.config import DataConfig
from tfbegan.data.folders import list_image_files
from tfbegan.data.pipeline import fixed_real_batch, make_dataset


@pytest.fixture(autouse=True)
def _fresh_cache():
    folders.clear_cache()
    yield
    folders.clear_cache()


def _folder(path, count, value0=0):
    """``count`` flat grey 8x8 PNGs; image i has the value ``value0 + 10 i``."""
    os.makedirs(path, exist_ok=True)
    for i in range(count):
        Image.fromarray(np.full((8, 8, 3), value0 + 10 * i, np.uint8)).save(
            os.path.join(path, f"{i:02d}.png"))
    return str(path)


def test_symlink_loop_is_not_followed(tmp_path, caplog):
    # Before: `ln -s .. DIR/loop` was walked until the path length limit (9,696
    # files for 16 real images here), pulling in the sibling folder too.
    data = _folder(tmp_path / "data", 16)
    _folder(tmp_path / "sibling", 3, value0=200)
    os.symlink("..", os.path.join(data, "loop"))
    os.symlink(".", os.path.join(data, "self"))
    with caplog.at_level(logging.WARNING, logger="tfbegan.data.pipeline"):
        paths = list_image_files(data)
        list_image_files(data)  # a second listing does not warn again
    assert paths == [os.path.join(data, f"{i:02d}.png") for i in range(16)]
    warnings = [r.getMessage() for r in caplog.records if "symbolic links" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Skipped 2 symbolic links under {data}")
    assert "loop" in warnings[0] and "self" in warnings[0]


def test_symlinks_inside_the_folder_are_followed_once(tmp_path, caplog):
    data = _folder(tmp_path / "data" / "real", 4)
    root = os.path.dirname(data)
    os.symlink("real", os.path.join(root, "alias"))  # same real directory twice
    _folder(tmp_path / "elsewhere", 2, value0=100)
    os.symlink(str(tmp_path / "elsewhere"), os.path.join(root, "sibling"))  # outside
    os.symlink(str(tmp_path / "elsewhere" / "00.png"), os.path.join(root, "file.png"))
    extra = _folder(tmp_path / "extra_target", 1, value0=50)
    inside = os.path.join(root, "linked_in")
    os.makedirs(inside)
    # A link to a real directory inside the folder that is not reached otherwise.
    os.rename(extra, os.path.join(root, ".hidden_real"))
    os.symlink(os.path.join(root, ".hidden_real"), os.path.join(inside, "in"))
    with caplog.at_level(logging.WARNING, logger="tfbegan.data.pipeline"):
        paths = list_image_files(root)
    rel = [os.path.relpath(p, root) for p in paths]
    # alias/ (visited first, sorted) stands for real/; .hidden_real/ is listed once.
    assert rel == [os.path.join(".hidden_real", "00.png")] + [
        os.path.join("alias", f"{i:02d}.png") for i in range(4)]
    message = caplog.text
    assert "Skipped 4 symbolic links" in message
    for name in ("sibling", "file.png", "real", os.path.join("linked_in", "in")):
        assert name in message
    images = np.concatenate([b.numpy() for b in make_dataset(
        DataConfig(f"folder:{root}", image_size=8), 5, shuffle=False, repeat=False)])
    # Values 50, 0, 10, 20, 30: nothing from the outside folder (100, 110).
    np.testing.assert_allclose(images[:, 0, 0, 0] * 127.5 + 127.5,
                               [50, 0, 10, 20, 30], atol=1e-4)


def test_folder_is_decoded_once_per_process(tmp_path, monkeypatch):
    # Before: decoded twice per run (training pipeline + the fixed real batch).
    data = _folder(tmp_path / "data", 6)
    calls = []
    original = folders._decode_all
    monkeypatch.setattr(folders, "_decode_all",
                        lambda *a: calls.append(a) or original(*a))
    config = DataConfig(f"folder:{data}", image_size=8)
    make_dataset(config, 2, seed=0)
    make_dataset(config, 2, seed=5)  # a resumed run reseeds: still no decode
    real = fixed_real_batch(config, num=4, seed=1)
    assert len(calls) == 1 and real.shape == (4, 8, 8, 3)
    # A changed file is decoded afresh.
    Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(os.path.join(data, "00.png"))
    os.utime(os.path.join(data, "00.png"), ns=(1, 1))
    make_dataset(config, 2)
    assert len(calls) == 2


def test_fixed_real_batch_gives_at_most_the_folder(tmp_path):
    # Issue 18: 12 images with --batch_size=8 failed with "global_batch_size=16
    # exceeds the 12 images" because the fixed real batch asked for 16.
    data = _folder(tmp_path / "twelve", 12)
    config = DataConfig(f"folder:{data}", image_size=8)
    real = fixed_real_batch(config, num=16, seed=0)
    assert real.shape == (12, 8, 8, 3) and real.dtype == np.float32
    # All twelve, each once, in [-1, 1]: values 0, 10, ..., 110 -> x / 127.5 - 1.
    np.testing.assert_allclose(np.sort(real[:, 0, 0, 0]),
                               np.arange(0, 120, 10) / 127.5 - 1, atol=1e-6)
    a = fixed_real_batch(config, num=5, seed=3)
    np.testing.assert_array_equal(a, fixed_real_batch(config, num=5, seed=3))
    assert a.shape == (5, 8, 8, 3) and len(np.unique(a[:, 0, 0, 0])) == 5
    # A folder too large for the in-memory cache decodes only the chosen files.
    streamed = DataConfig(f"folder:{data}", image_size=8, cache_limit_mb=0)
    s = fixed_real_batch(streamed, num=16, seed=0)
    assert s.shape == (12, 8, 8, 3)
    np.testing.assert_allclose(np.sort(s[:, 0, 0, 0]), np.sort(real[:, 0, 0, 0]))


def test_fixed_real_batch_mnist5k_draws_several_classes():
    real = fixed_real_batch(DataConfig("mnist5k", image_size=32), num=16, seed=0)
    assert real.shape == (16, 32, 32, 1)
    images, labels = mnist5k.load_mnist5k(32)
    idx = [int(np.flatnonzero((images == r).all(axis=(1, 2, 3)))[0]) for r in real]
    assert len(set(labels[idx])) >= 5  # file order would give sixteen zeros
    with pytest.raises(ValueError, match="num=0"):
        fixed_real_batch(DataConfig("mnist5k"), num=0)

"""tfbegan.checkpoints: atomic save, listing, latest, load, keep-N pruning, debris."""

import os

import keras
import numpy as np
import pytest

import tfbegan
from tfbegan import checkpoints


def _model(seed=0):
    model = tfbegan.BEGAN(image_size=8, channels=1, filters=2, repeats=1, z_dim=2,
                          h_dim=2, k_init=0.125, seed=seed)
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    return model


def _files(workdir):
    return sorted(os.listdir(checkpoints.checkpoint_dir(workdir)))


def test_empty_workdir_has_no_checkpoint(tmp_path):
    assert checkpoints.list_checkpoints(str(tmp_path)) == []
    assert checkpoints.latest_checkpoint(str(tmp_path)) is None
    assert checkpoints.latest_checkpoint(str(tmp_path / "missing")) is None


def test_save_list_latest_load_and_prune(tmp_path):
    workdir = str(tmp_path)
    model = _model(seed=3)
    x = np.random.RandomState(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=2, epochs=1, verbose=0)  # 2 steps: optimizer state exists
    model.k.assign(0.375)
    paths = [checkpoints.save_checkpoint(model, workdir, step, {"epoch": step * 10},
                                         keep=2)
             for step in (1, 2, 10)]
    assert paths[-1] == os.path.join(workdir, "checkpoints", "ckpt-00000010.keras")
    # keep=2: step 1 and its sidecar are gone; steps sort numerically, not lexically.
    assert checkpoints.list_checkpoints(workdir) == [(2, paths[1]), (10, paths[2])]
    assert _files(workdir) == ["ckpt-00000002.json", "ckpt-00000002.keras",
                               "ckpt-00000010.json", "ckpt-00000010.keras"]
    assert checkpoints.latest_checkpoint(workdir) == paths[2]

    loaded, state = checkpoints.load_checkpoint(paths[2])
    assert state == {"step": 10, "epoch": 100}
    assert isinstance(loaded, tfbegan.BEGAN)
    assert float(loaded.k) == 0.375
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.d_optimizer.iterations) == int(loaded.g_optimizer.iterations) == 2
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(2e-3)
    for a, b in zip(model.g_optimizer.variables, loaded.g_optimizer.variables):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_keep_zero_keeps_everything(tmp_path):
    model = _model()
    for step in range(3):
        checkpoints.save_checkpoint(model, str(tmp_path), step, keep=0)
    assert [s for s, _ in checkpoints.list_checkpoints(str(tmp_path))] == [0, 1, 2]


def test_load_without_sidecar_gives_empty_state(tmp_path):
    path = checkpoints.save_checkpoint(_model(), str(tmp_path), 5)
    os.remove(path[:-len(".keras")] + ".json")
    _, state = checkpoints.load_checkpoint(path, compile=False)
    assert state == {}


def test_tmp_debris_is_ignored_then_cleaned(tmp_path):
    workdir = str(tmp_path)
    model = _model()
    first = checkpoints.save_checkpoint(model, workdir, 1)
    directory = checkpoints.checkpoint_dir(workdir)
    # What a run killed mid-write at step 7 leaves behind.
    # (the sidecar is renamed into place before the archive: an orphan .json too)
    debris = ["ckpt-00000007.json.tmp", "ckpt-00000007.keras.tmp", "ckpt-00000008.json"]
    for name in debris:
        with open(os.path.join(directory, name), "w") as f:
            f.write("partial")
    os.makedirs(os.path.join(directory, "ckpt-00000007.keras.tmp.d"))
    with open(os.path.join(directory, "ckpt-00000007.keras.tmp.d", "model.keras"), "w") as f:
        f.write("partial")
    # Ignored by readers: step 7 does not exist.
    assert checkpoints.list_checkpoints(workdir) == [(1, first)]
    assert checkpoints.latest_checkpoint(workdir) == first
    # Cleaned by the next save.
    second = checkpoints.save_checkpoint(model, workdir, 2)
    assert _files(workdir) == ["ckpt-00000001.json", "ckpt-00000001.keras",
                               "ckpt-00000002.json", "ckpt-00000002.keras"]
    assert checkpoints.latest_checkpoint(workdir) == second

"""tfbegan.training.checkpoints: atomic save, listing, load, pruning, per-run debris cleanup,
fallback past corrupt checkpoints, missing sidecars, disk full."""

import errno
import logging
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import small_fs

from tfbegan import fileio
from tfbegan.models import BEGAN, DenoisingBEGAN
from tfbegan.training import checkpoints, finite_state


def _model(seed=0):
    model = BEGAN(image_size=8, channels=1, filters=2, repeats=1, z_dim=2,
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
    assert isinstance(loaded, BEGAN)
    assert float(loaded.k) == 0.375
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.d_optimizer.iterations) == int(loaded.g_optimizer.iterations) == 2
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(2e-3)
    for a, b in zip(model.g_optimizer.variables, loaded.g_optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_keep_zero_keeps_everything(tmp_path):
    model = _model()
    for step in range(3):
        checkpoints.save_checkpoint(model, str(tmp_path), step, keep=0)
    assert [s for s, _ in checkpoints.list_checkpoints(str(tmp_path))] == [0, 1, 2]


def test_missing_sidecar_takes_the_step_from_the_optimizer(tmp_path, caplog):
    # Before: state == {} and train_lib logged "resuming ... from step 0" for a
    # run that really resumed from step 2 (its callback state silently reset).
    model = _model()
    x = np.zeros((4, 8, 8, 1), "float32")
    model.fit(x, batch_size=2, epochs=1, verbose=0)  # 2 optimizer steps
    path = checkpoints.save_checkpoint(model, str(tmp_path), 2)
    os.remove(checkpoints.sidecar_path(path))
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        _, state = checkpoints.load_checkpoint(path)
    assert state == {"step": 2}
    assert "sidecar" in caplog.text and "is missing" in caplog.text
    assert "resuming from step 2" in caplog.text and "starts afresh" in caplog.text
    # Uncompiled (no optimizer, as tfbegan-export reads): the step in the file name,
    # and no "resuming" (before: an exporter racing a --keep_checkpoints=1 run said
    # "resuming from step N" though nothing resumed).
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        _, state = checkpoints.load_checkpoint(path, compile=False)
    assert state == {"step": 2}
    assert "resuming" not in caplog.text
    assert "a live run may have pruned it" in caplog.text and "as step 2" in caplog.text


def _pid_of_finished_process():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_cleanup_touches_only_own_and_dead_runs_temporaries(tmp_path):
    # Before: every *.tmp* was removed, including a live run's half-written
    # ckpt-00000050.keras.tmp.d ("No such file or directory" in that run).
    workdir = str(tmp_path)
    model = _model()
    first = checkpoints.save_checkpoint(model, workdir, 1)
    directory = checkpoints.checkpoint_dir(workdir)
    host = fileio.temp_owner(fileio.temp_name("x"))[1]
    live = f"ckpt-00000050.keras.tmp-{os.getppid()}@{host}.d"  # our parent: alive
    other_host = f"ckpt-00000050.keras.tmp-{os.getpid()}@another-host.d"
    dead = f"ckpt-00000007.keras.tmp-{_pid_of_finished_process()}@{host}.d"
    dead_json = f"ckpt-00000007.json.tmp-{_pid_of_finished_process()}@{host}"
    legacy = "ckpt-00000007.keras.tmp.d"  # untagged: owner unknown, left alone
    for name in (live, other_host, dead, legacy):
        os.makedirs(os.path.join(directory, name))
        with open(os.path.join(directory, name, "model.keras"), "w") as f:
            f.write("partial")
    with open(os.path.join(directory, dead_json), "w") as f:
        f.write("partial")
    with open(os.path.join(directory, "ckpt-00000008.json"), "w") as f:
        f.write("{}")  # orphan sidecar (older versions renamed it first)
    # Ignored by readers.
    assert checkpoints.list_checkpoints(workdir) == [(1, first)]
    second = checkpoints.save_checkpoint(model, workdir, 2)
    assert _files(workdir) == sorted([
        "ckpt-00000001.json", "ckpt-00000001.keras", "ckpt-00000002.json",
        "ckpt-00000002.keras", live, other_host, legacy])
    assert os.path.exists(os.path.join(directory, live, "model.keras"))
    assert checkpoints.latest_checkpoint(workdir) == second


def _corrupt(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "random_bytes":
        data = np.random.RandomState(0).bytes(len(data))
    elif how == "missing_member":
        with zipfile.ZipFile(path) as src:
            members = {n: src.read(n) for n in src.namelist() if n != "model.weights.h5"}
        with zipfile.ZipFile(path, "w") as dst:
            for name, blob in members.items():
                dst.writestr(name, blob)
        return
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("how", ["truncated", "random_bytes", "missing_member"])
def test_resume_falls_back_past_a_corrupt_checkpoint(tmp_path, caplog, how):
    workdir = str(tmp_path)
    model = _model()
    good = checkpoints.save_checkpoint(model, workdir, 10, {"epoch": 1})
    model.k.assign(0.25)
    bad = checkpoints.save_checkpoint(model, workdir, 20, {"epoch": 2})
    _corrupt(bad, how)
    # Before: keras' false "File not found: .../ckpt-00000020.keras".
    with pytest.raises(checkpoints.CheckpointError, match="ckpt-00000020.keras") as info:
        checkpoints.load_checkpoint(bad)
    assert "File not found" not in str(info.value) and "\n" not in str(info.value)
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        loaded, state, path = checkpoints.load_latest(workdir)
    assert path == good and state == {"step": 10, "epoch": 1}
    assert float(loaded.k) == 0.125  # the k of step 10, not the 0.25 of step 20
    assert "ckpt-00000020.keras" in caplog.text and "moved" in caplog.text
    # Moved aside with its sidecar, not deleted; the good one is now the latest.
    corrupt = os.path.join(checkpoints.checkpoint_dir(workdir), "corrupt")
    assert sorted(os.listdir(corrupt)) == ["ckpt-00000020.json", "ckpt-00000020.keras"]
    assert checkpoints.latest_checkpoint(workdir) == good


def test_no_loadable_checkpoint_is_one_line_and_moves_nothing(tmp_path):
    workdir = str(tmp_path)
    model = _model()
    for step in (1, 2):
        _corrupt(checkpoints.save_checkpoint(model, workdir, step), "truncated")
    before = _files(workdir)
    with pytest.raises(checkpoints.NoUsableCheckpointError) as info:
        checkpoints.load_latest(workdir)
    message = str(info.value)
    assert "\n" not in message
    assert "none of the 2 checkpoints" in message and "ckpt-00000002.keras" in message
    assert _files(workdir) == before
    assert checkpoints.load_latest(str(tmp_path / "empty")) == (None, {}, None)


def test_read_model_config_without_building(tmp_path):
    path = checkpoints.save_checkpoint(_model(), str(tmp_path), 3)
    config = checkpoints.read_model_config(path)
    assert config["class_name"] == "BEGAN"
    assert config["registered_name"] == "tfbegan>BEGAN"
    assert {k: config["config"][k] for k in ("image_size", "channels", "filters",
                                             "repeats", "z_dim", "h_dim")} == {
        "image_size": 8, "channels": 1, "filters": 2, "repeats": 1, "z_dim": 2,
        "h_dim": 2}
    assert config["config"]["k_init"] == 0.125
    _corrupt(path, "truncated")
    with pytest.raises(checkpoints.CheckpointError, match="not a readable"):
        checkpoints.read_model_config(path)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["archive", "sidecar"])
def test_disk_full_through_a_patched_writer(tmp_path, monkeypatch, writer):
    # Before: an OSError traceback, an orphan ckpt-75.json and ckpt-75.keras.tmp.d.
    workdir = str(tmp_path)
    model = _model()
    good = checkpoints.save_checkpoint(model, workdir, 50)
    size = os.path.getsize(good)
    if writer == "archive":
        def half_written(path, *args, **kwargs):
            with open(path, "wb") as f:
                f.write(b"partial")
            _enospc()
        monkeypatch.setattr(model, "save", half_written)
    else:
        monkeypatch.setattr(checkpoints, "_write_json_file", _enospc)
    with pytest.raises(fileio.DiskFullError) as info:
        checkpoints.save_checkpoint(model, workdir, 75)
    message = str(info.value)
    assert "\n" not in message
    assert os.path.join(workdir, "checkpoints", "ckpt-00000075.keras") in message
    # An upper bound (before: the newest archive's size, below the real peak): the
    # archive, Keras' temporary copy of the weights, the sidecar, block rounding.
    assert info.value.bytes_needed >= 2 * size + os.path.getsize(good[:-6] + ".json")
    assert f"needs about {fileio._human(info.value.bytes_needed)} at its peak" in message
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert _files(workdir) == ["ckpt-00000050.json", "ckpt-00000050.keras"]
    monkeypatch.undo()
    loaded, state, _ = checkpoints.load_latest(workdir)
    assert state["step"] == 50 and float(loaded.k) == 0.125


@pytest.fixture
def small_tmpfs(tmp_path):
    with small_fs.small_tmpfs(tmp_path / "tmpfs", "160k") as mount:
        yield str(mount)


def test_disk_full_on_a_real_small_file_system(small_tmpfs):
    workdir = os.path.join(small_tmpfs, "run")
    model = _model()
    checkpoints.save_checkpoint(model, workdir, 1, keep=0)  # ~90 KiB of 160 KiB
    with pytest.raises(fileio.DiskFullError, match="ckpt-00000002.keras: needs about"):
        checkpoints.save_checkpoint(model, workdir, 2, keep=0)
    assert _files(workdir) == ["ckpt-00000001.json", "ckpt-00000001.keras"]
    _, state, path = checkpoints.load_latest(workdir)
    assert state == {"step": 1} and path.endswith("ckpt-00000001.keras")


def test_model_settings_for_a_flag_check_without_config_json(tmp_path):
    model = DenoisingBEGAN(image_size=8, channels=1, filters=2, repeats=1,
                                   z_dim=3, h_dim=2)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    path = checkpoints.save_checkpoint(model, str(tmp_path), 1)
    name, kwargs = checkpoints.model_settings(path)
    assert name == "denoising_began"
    assert {k: kwargs[k] for k in ("image_size", "filters", "z_dim", "h_dim")} == {
        "image_size": 8, "filters": 2, "z_dim": 3, "h_dim": 2}
    assert not {"name", "trainable", "dtype"} & set(kwargs)
    # The kwargs rebuild the same architecture.
    rebuilt = DenoisingBEGAN(**kwargs)
    assert rebuilt.count_params() == model.count_params()


@pytest.mark.parametrize("poison", ["weight", "optimizer"])
def test_a_non_finite_state_is_never_written(tmp_path, poison):
    model = _model()
    work = str(tmp_path)
    checkpoints.save_checkpoint(model, work, 1)
    if poison == "weight":
        variable = model.generator.trainable_variables[0]
    else:  # an Adam slot: finite losses and weights, a state that cannot continue
        variable = next(v for v in model.d_optimizer.variables if len(v.shape))
    value = np.array(variable)
    value.flat[0] = np.nan
    variable.assign(value)
    assert finite_state.non_finite_state(model) == [variable.path]
    with pytest.raises(finite_state.NonFiniteStateError,
                       match=r"not saving step 2: 1 weight or optimizer tensors hold NaN"):
        checkpoints.save_checkpoint(model, work, 2)
    assert _files(work) == ["ckpt-00000001.json", "ckpt-00000001.keras"]


def test_checkpointer_stops_training_at_a_non_finite_state(tmp_path):
    from tfbegan.callbacks import Checkpointer, NaNGuard

    class PoisonAtStep3(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.d_optimizer.iterations.numpy()) == 3:
                v = self.model.discriminator.trainable_variables[0]
                v.assign(np.full(v.shape, np.inf, np.float32))

    model = _model()
    guard = NaNGuard()
    saver = Checkpointer(str(tmp_path), every=1, keep=10, nan_guard=guard)
    x = np.zeros((40, 8, 8, 1), np.float32)
    model.fit(x, batch_size=4, epochs=1, verbose=0, callbacks=[guard, PoisonAtStep3(), saver])
    assert int(model.d_optimizer.iterations.numpy()) == 3  # stopped there
    assert [s for s, _ in checkpoints.list_checkpoints(str(tmp_path))] == [1, 2]
    assert guard.failure.startswith("non-finite weights at step 3")
    loaded, _ = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(str(tmp_path)))
    assert finite_state.non_finite_state(loaded) == []

"""train_lib / tfbegan-train on a bad day: signals, a second run on the workdir,
reruns below the checkpoint, bad paths found before training, tiny folders, NaN data."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfbegan.data.config import DataConfig
from tfbegan.training import checkpoints

TINY = ["--model=began", "--image_size=8", "--filters=4", "--z_dim=4", "--h_dim=4",
        "--batch_size=4", "--log_every=2", "--checkpoint_every=2", "--sample_every=2"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def run_cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "tfbegan.cli.train", *args],
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def start_cli(*args):
    return subprocess.Popen([sys.executable, "-m", "tfbegan.cli.train", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=ENV)


def wait_for_line(proc, pattern, timeout=180):
    """Reads ``proc``'s stderr until a line matches; returns the match."""
    deadline = time.time() + timeout
    for line in proc.stderr:
        m = re.search(pattern, line)
        if m:
            return m
        assert time.time() < deadline, f"no line matching {pattern!r}"
    raise AssertionError(f"process ended without a line matching {pattern!r}")


def tiny_config(**changes):
    from tfbegan.training.config import TrainConfig

    cfg = TrainConfig(model_kwargs=dict(image_size=8, channels=1, filters=4, z_dim=4,
                                        h_dim=4),
                      data=DataConfig(image_size=8), batch_size=4, steps=2,
                      log_every=1, checkpoint_every=2, sample_every=100)
    return cfg.replace(**changes)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_saves_the_current_step_and_rerun_resumes_there(tmp_path, sig, code):
    work = str(tmp_path / "run")
    args = [*TINY, "--steps=100000", f"--workdir={work}", "--export_base=",
            "--checkpoint_every=1000", "--sample_every=1000"]
    proc = start_cli(*args)
    wait_for_line(proc, r"step \d+/100000")
    proc.send_signal(sig)
    saved = int(wait_for_line(proc, r"saved a checkpoint at step (\d+)").group(1))
    assert proc.wait(timeout=120) == code
    assert checkpoints.list_checkpoints(work)[-1][0] == saved
    r = run_cli(*args[:-4], f"--steps={saved + 2}", f"--workdir={work}", "--export_base=")
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"from step {saved}" in r.stderr


def test_second_run_on_a_locked_workdir_exits_at_once(tmp_path):
    work = str(tmp_path / "run")
    first = start_cli(*TINY, "--steps=100000", f"--workdir={work}", "--export_base=",
                      "--checkpoint_every=1000", "--sample_every=1000")
    try:
        wait_for_line(first, r"step \d+/100000")
        t0 = time.time()
        r = run_cli(*TINY, "--steps=4", f"--workdir={work}", "--export_base=")
        assert r.returncode != 0
        errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and f"{first.pid}" in errors[0], r.stderr[-2000:]
        assert time.time() - t0 < 60
    finally:
        first.kill()
        first.wait()


def test_rerun_below_the_checkpoint_trains_nothing_and_touches_nothing(tmp_path):
    work = str(tmp_path / "run")
    export_base = str(tmp_path / "export")
    r = run_cli(*TINY, "--steps=4", f"--workdir={work}", f"--export_base={export_base}")
    assert r.returncode == 0, r.stderr[-3000:]
    before = {p: os.stat(os.path.join(d, p)).st_mtime_ns
              for d in (work, os.path.join(work, "samples")) for p in os.listdir(d)
              if not p.startswith(".")}
    r = run_cli(*TINY, "--steps=2", f"--workdir={work}", f"--export_base={export_base}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "already at step 4 >= --steps=2; nothing to train" in r.stderr
    assert "Traceback" not in r.stderr
    assert os.listdir(export_base) == ["1"]
    after = {p: os.stat(os.path.join(d, p)).st_mtime_ns
             for d in (work, os.path.join(work, "samples")) for p in os.listdir(d)
             if not p.startswith(".") and p != "config.json"}
    assert after == {p: t for p, t in before.items() if p != "config.json"}


def test_export_base_that_is_a_file_fails_before_training(tmp_path):
    (tmp_path / "afile").write_text("x")
    work = str(tmp_path / "run")
    r = run_cli(*TINY, "--steps=2", f"--workdir={work}",
                f"--export_base={tmp_path / 'afile' / 'gen'}", timeout=120)
    assert r.returncode != 0
    assert "error: " in r.stderr and "afile" in r.stderr
    assert not checkpoints.list_checkpoints(work)


def test_invalid_config_json_is_named(tmp_path):
    from tfbegan.training import train_lib

    work = tmp_path / "run"
    work.mkdir()
    (work / "config.json").write_text("{\n'model': 1}")
    with pytest.raises(ValueError, match=re.escape(str(work / "config.json"))):
        train_lib.train(tiny_config(), str(work))


def test_folder_smaller_than_the_fixed_batch(tmp_path):
    from PIL import Image

    from tfbegan.training import train_lib

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (10, 10), dtype=np.uint8)).save(
            folder / f"{i}.png")
    cfg = tiny_config(data=DataConfig(f"folder:{folder}", image_size=8),
                      batch_size=8, sample_every=1)
    cfg = cfg.replace(model_kwargs={**cfg.model_kwargs, "channels": 3})
    out = train_lib.train(cfg, str(tmp_path / "run"))
    assert out["step"] == 2
    # The IQA statistics ran on all 12 images (the fixed batch is min(16, 12)).
    assert os.path.exists(tmp_path / "run" / "iqa_distances.csv")


def test_iqa_distances_only_for_autoencoder_discriminators(tmp_path):
    from tfbegan.training import train_lib

    train_lib.train(tiny_config(model="age", sample_every=1), str(tmp_path / "age"))
    assert not os.path.exists(tmp_path / "age" / "iqa_distances.csv")
    train_lib.train(tiny_config(sample_every=1), str(tmp_path / "began"))
    assert os.path.exists(tmp_path / "began" / "iqa_distances.csv")


def test_settings_the_model_class_refuses_fail_before_any_write(tmp_path):
    """The d_lr_ratio check reads the class's networks (no list of names elsewhere)."""
    from tfbegan.training import train_lib

    with pytest.raises(ValueError, match=r"model 'age' has no discriminator \(its "
                                         r"networks: encoder, generator\)"):
        train_lib.train(tiny_config(model="age", d_lr_ratio=0.5), str(tmp_path / "age"))
    with pytest.raises(ValueError, match="model='gan' is not supported; allowed: age, "):
        train_lib.train(tiny_config(model="gan"), str(tmp_path / "gan"))
    assert not os.listdir(tmp_path)


def test_nan_in_the_data_is_blamed_on_the_data(tmp_path, monkeypatch):
    import tensorflow as tf

    from tfbegan.data import pipeline as data_lib
    from tfbegan.training import train_lib

    def nan_dataset(data_config, global_batch_size, seed=0, shuffle=True, repeat=True):
        x = np.full((global_batch_size, 8, 8, 1), np.nan, np.float32)
        ds = tf.data.Dataset.from_tensors(x)
        return ds.repeat() if repeat else ds

    monkeypatch.setattr(data_lib, "make_dataset", nan_dataset)
    with pytest.raises(FloatingPointError, match="training data holds NaN or Inf"):
        train_lib.train(tiny_config(), str(tmp_path / "run"))


def test_config_json_names_the_resume_settings(tmp_path):
    from tfbegan.training import train_lib

    train_lib.train(tiny_config(), str(tmp_path / "run"))
    saved = json.load(open(tmp_path / "run" / "config.json"))
    assert saved["model"] == "began" and saved["steps"] == 2


def test_corrupt_newest_checkpoint_resumes_from_the_previous(tmp_path, caplog):
    from tfbegan.training import train_lib

    work = str(tmp_path / "run")
    train_lib.train(tiny_config(steps=4), work)
    assert [s for s, _ in checkpoints.list_checkpoints(work)] == [2, 4]
    newest = checkpoints.list_checkpoints(work)[-1][1]
    with open(newest, "r+b") as f:  # truncated to half, as a full disk leaves it
        f.truncate(os.path.getsize(newest) // 2)
    with caplog.at_level("INFO", logger="tfbegan"):
        out = train_lib.train(tiny_config(steps=6), work)
    assert out["start_step"] == 2 and out["step"] == 6
    assert os.path.basename(newest) in caplog.text
    moved = os.listdir(os.path.join(work, "checkpoints", "corrupt"))
    assert os.path.basename(newest) in moved  # moved aside, never deleted


def test_without_config_json_changed_architecture_is_refused(tmp_path):
    from tfbegan.training import train_lib

    work = str(tmp_path / "run")
    cfg = tiny_config()
    train_lib.train(cfg, work)
    os.remove(os.path.join(work, "config.json"))
    other = cfg.replace(model_kwargs={**cfg.model_kwargs, "filters": 8, "z_dim": 2})
    with pytest.raises(ValueError, match=r"filters: 4 -> 8.*z_dim: 4 -> 2"):
        train_lib.train(other.replace(steps=4), work)
    assert not os.path.exists(os.path.join(work, "config.json"))
    # The same settings resume, and config.json comes back.
    assert train_lib.train(cfg.replace(steps=4), work)["start_step"] == 2
    assert json.load(open(os.path.join(work, "config.json")))["model_kwargs"]["filters"] == 4


def _versions(base):
    return sorted(os.listdir(base)) if os.path.isdir(base) else []


def test_rerun_finishes_the_export_a_failed_end_of_run_left_out(tmp_path, monkeypatch):
    import errno

    from tfbegan.serving import export as export_lib
    from tfbegan.training import finish, train_lib

    work, base = str(tmp_path / "run"), str(tmp_path / "export")
    cfg = tiny_config(export_base=base)
    real_export = export_lib.export_generator

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_lib, "export_generator", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train_lib.train(cfg, work)
    assert finish.finished_step(work) is None and _versions(base) == []
    # The rerun used to say "nothing to train", exit 0 and export nothing.
    monkeypatch.setattr(export_lib, "export_generator", real_export)
    out = train_lib.train(cfg, work)
    assert out["step"] == 2 and out["export_dir"] == os.path.join(base, "1")
    assert os.path.isfile(os.path.join(work, "convergence.png"))
    assert finish.finished_step(work) == 2
    # Once finished, a rerun does nothing: no second version.
    assert "export_dir" not in train_lib.train(cfg, work)
    assert _versions(base) == ["1"]


def test_a_signal_during_the_end_of_run_work_lets_it_finish(tmp_path, monkeypatch, caplog):
    from tfbegan.serving import export as export_lib
    from tfbegan.training import finish, train_lib

    work, base = str(tmp_path / "run"), str(tmp_path / "export")
    real_export = export_lib.export_generator

    def signalled(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)  # as a supervisor stopping the job
        return real_export(*args, **kwargs)

    monkeypatch.setattr(export_lib, "export_generator", signalled)
    before = signal.getsignal(signal.SIGTERM)
    with caplog.at_level("WARNING", logger="tfbegan"):
        out = train_lib.train(tiny_config(export_base=base), work)
    assert out["export_dir"] == os.path.join(base, "1")
    assert os.path.isfile(os.path.join(out["export_dir"], "saved_model.pb"))
    assert finish.finished_step(work) == 2
    assert "received SIGTERM during the end-of-run work; finished it first" in caplog.text
    assert signal.getsignal(signal.SIGTERM) is before  # handler restored


def test_a_first_run_that_failed_on_its_data_does_not_block_the_corrected_one(tmp_path):
    from tfbegan.training import train_lib

    work, empty = str(tmp_path / "run"), tmp_path / "empty"
    empty.mkdir()
    bad = tiny_config(data=DataConfig(f"folder:{empty}", image_size=8))
    with pytest.raises(ValueError, match="empty"):
        train_lib.train(bad, work)
    assert not os.path.exists(work)
    # A folder with fewer images than one batch fails when the dataset is made: that
    # used to come after config.json was written.
    from PIL import Image

    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(few / f"{i}.png")
    with pytest.raises(ValueError, match="batch"):
        train_lib.train(tiny_config(data=DataConfig(f"folder:{few}", image_size=8)), work)
    assert not os.path.exists(work)
    # The corrected command used to be refused: "holds a different run (data: ...)".
    assert train_lib.train(tiny_config(), work)["step"] == 2


def test_a_rerun_with_a_distance_in_short_form_resumes(tmp_path):
    """--distance=l2 (the VAE+BEGAN preset's) is stored as 'l2:1': the rerun of the
    same command was refused as "a different run" (found by the docs test)."""
    from tfbegan.training import train_lib

    cfg = tiny_config(model_kwargs={**tiny_config().model_kwargs, "distance": "l2"})
    train_lib.train(cfg, str(tmp_path / "run"))
    assert train_lib.train(cfg.replace(steps=4), str(tmp_path / "run"))["step"] == 4


def test_a_rerun_past_its_steps_leaves_config_json_alone(tmp_path):
    from tfbegan.training import train_lib

    work = str(tmp_path / "run")
    train_lib.train(tiny_config(steps=4, checkpoint_every=4), work)
    before = open(os.path.join(work, "config.json")).read()
    out = train_lib.train(tiny_config(steps=2, checkpoint_every=4), work)
    assert out["step"] == 4 and out["start_step"] == 4
    assert open(os.path.join(work, "config.json")).read() == before


def test_a_checkpoint_of_another_model_is_refused_with_config_json_present(tmp_path):
    # Before: a BiGAN checkpoint in a BEGAN workdir was resumed silently (trained a
    # BiGAN, exported model_type BiGAN) because config.json matched the flags.
    from tfbegan.training import train_lib

    work = str(tmp_path / "run")
    train_lib.train(tiny_config(), work)
    bigan = train_lib.build_model(tiny_config(model="bigan"))
    checkpoints.save_checkpoint(bigan, work, 4)
    with pytest.raises(ValueError, match=r"checkpoint ckpt-00000004\.keras: model: "
                                         r"'bigan' -> 'began'"):
        train_lib.train(tiny_config(steps=6), work)
    assert [s for s, _ in checkpoints.list_checkpoints(work)] == [2, 4]


def test_bad_run_files_and_paths_fail_in_one_line_before_training(tmp_path):
    # Before: an IsADirectoryError traceback, "'utf-8' codec can't decode byte 0xeb"
    # (no file named), a non-UTF-8 workdir failing after 5 steps with no path, and
    # --export_base=/proc/exp passing the os.access check, failing after training.
    from tfbegan.training import train_lib

    (tmp_path / "dir" / "config.json").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_bytes(b"\x00\xeb\xff")
    cases = [(str(tmp_path / "dir"), {}, "config.json .* is a directory"),
             (str(tmp_path / "bin"), {}, "config.json .* is not JSON text"),
             (os.fsdecode(os.fsencode(str(tmp_path)) + b"/w\xff"), {},
              r"--workdir=.*w\\udcff' is not a UTF-8 path"),
             (str(tmp_path / "new"), {"export_base": "/proc/exp"},
              "cannot create a directory in '/proc'")]
    for work, changes, message in cases:
        with pytest.raises(ValueError, match=message):
            train_lib.train(tiny_config(**changes), work)
    # The failed run created tmp_path/new and left nothing in it: it is removed.
    assert sorted(os.listdir(tmp_path)) == ["bin", "dir"]


def test_callback_state_of_the_wrong_type_starts_afresh(tmp_path, caplog):
    # Before: AttributeError ('int' object has no attribute 'get') on resume.
    from tfbegan.training import train_lib

    work = str(tmp_path / "run")
    train_lib.train(tiny_config(), work)
    sidecar = checkpoints.sidecar_path(checkpoints.latest_checkpoint(work))
    state = json.load(open(sidecar))
    json.dump({**state, "callbacks": {"ConvergenceLRDecay": 5}}, open(sidecar, "w"))
    with caplog.at_level("WARNING", logger="tfbegan"):
        assert train_lib.train(tiny_config(steps=4), work)["step"] == 4
    assert "ConvergenceLRDecay state 5 is not usable (AttributeError)" in caplog.text

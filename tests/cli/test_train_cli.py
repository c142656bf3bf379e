"""tfbegan-train end to end (subprocesses) and train_lib's resume and bad input."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tfbegan.data import real_images
from tfbegan.data.config import DataConfig
from tfbegan.evaluation import features
from tfbegan.training import checkpoints

TINY = ["--image_size=8", "--filters=4", "--z_dim=4", "--h_dim=4", "--batch_size=4",
        "--log_every=2", "--checkpoint_every=2", "--sample_every=2"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def run_cli(*args, timeout=240, module="tfbegan.cli.train"):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def test_cli_end_to_end_then_resume(tmp_path):
    work = str(tmp_path / "run")
    export_base = str(tmp_path / "export" / "tiny")
    r = run_cli(*TINY, "--steps=4", f"--workdir={work}", f"--export_base={export_base}")
    assert r.returncode == 0, r.stderr[-3000:]
    # Progress lines name step, losses, k, M_global, images/s and ETA.
    assert "step 4/4" in r.stderr and "m_global" in r.stderr and "img/s" in r.stderr
    assert "ETA" in r.stderr
    # Our lines only: no TensorFlow start-up or SavedModel INFO lines (it printed 12).
    others = [line for line in r.stderr.splitlines()
              if not re.match(r"\d\d:\d\d:\d\d ", line)]
    assert others == [], r.stderr[-3000:]
    files = os.listdir(work)
    for name in ("config.json", "metrics.csv", "convergence.png", "samples", "logs",
                 "checkpoints"):
        assert name in files, files
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(work, "logs")))
    assert os.listdir(os.path.join(work, "samples"))
    assert [s for s, _ in checkpoints.list_checkpoints(work)] == [2, 4]
    assert os.path.isdir(os.path.join(export_base, "1"))
    with open(os.path.join(work, "checkpoints", "ckpt-00000004.json")) as f:
        assert json.load(f)["step"] == 4
    model4, _ = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(work))
    k4 = float(model4.k.numpy())

    # Rerun to 8: starts at 4 with the saved k and optimizer iteration count.
    r = run_cli(*TINY, "--steps=8", f"--workdir={work}", "--export_base=")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming" in r.stderr and "from step 4" in r.stderr
    assert "step 6/8" in r.stderr and "step 2/" not in r.stderr
    model8, state = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(work))
    assert state["step"] == 8
    assert int(model8.d_optimizer.iterations.numpy()) == 8
    assert int(model8.g_optimizer.iterations.numpy()) == 8
    assert float(model8.k.numpy()) != k4  # k kept moving from the restored value

    # The metrics CSV holds one row per logged step, no duplicates across the resume.
    with open(os.path.join(work, "metrics.csv")) as f:
        steps = [int(float(line.split(",")[0])) for line in f.readlines()[1:]]
    assert steps == [2, 4, 6, 8]


def test_sigkill_then_rerun_completes(tmp_path):
    work = str(tmp_path / "run")
    args = [*TINY, "--steps=400", f"--workdir={work}", "--export_base=",
            "--checkpoint_every=5", "--log_every=5", "--sample_every=1000"]
    proc = subprocess.Popen([sys.executable, "-m", "tfbegan.cli.train", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 180
    while time.time() < deadline and not checkpoints.list_checkpoints(work):
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = checkpoints.list_checkpoints(work)
    assert done, "no checkpoint before the kill"
    killed_at = done[-1][0]
    assert killed_at < 400
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"from step {killed_at}" in r.stderr
    assert checkpoints.list_checkpoints(work)[-1][0] == 400
    # No half-written file is left where a loader would look.
    assert not [f for f in os.listdir(os.path.join(work, "checkpoints")) if ".tmp" in f]


@pytest.mark.parametrize("args, message", [
    (["--dataset=nope"], "dataset"),
    (["--dataset=folder:/definitely/not/here"], "/definitely/not/here"),
    (["--dataset=tfds:mnist", "--data_dir={tmp}/empty_tfds", "--nodownload"], "download"),
    (["--gamma=1.5"], "gamma=1.5"),
    (["--image_size=48"], "image_size=48"),
    (["--batch_size=0"], "batch_size=0"),
    (["--steps=100000000000000000000"], "steps=100000000000000000000 is out of range"),
    (["--d_lr_ratio=0"], "d_lr_ratio=0"),
    (["--flagfile={repo}/flags/age_mnist5k.flags", "--d_lr_ratio=0.5"], "no discriminator"),
    (["--workdir={tmp}/afile/sub"], "not writable"),
    (["extra_positional"], "unexpected arguments"),
])
def test_bad_input_is_one_line_error(tmp_path, args, message):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty_tfds").mkdir()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = [a.format(tmp=tmp_path, repo=repo) for a in args]
    if not any(a.startswith("--workdir") for a in args):
        args.append(f"--workdir={tmp_path / 'run'}")
    r = run_cli(*TINY, "--steps=2", "--export_base=", *args, timeout=120)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr[-2000:]
    assert message in errors[0], errors[0]
    assert "Traceback" not in r.stderr


def test_empty_folder_error(tmp_path):
    (tmp_path / "imgs").mkdir()
    r = run_cli(*TINY, "--steps=2", "--export_base=", f"--dataset=folder:{tmp_path / 'imgs'}",
                f"--workdir={tmp_path / 'run'}", timeout=120)
    assert r.returncode != 0
    assert "error: " in r.stderr and str(tmp_path / "imgs") in r.stderr
    assert "Traceback" not in r.stderr


def test_flagfile_and_helpfull():
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = run_cli("--helpfull", timeout=120)
    # absl's help flags print the help and exit with status 1.
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "--[no]download" in r.stdout
    for flag in ("--dataset", "--data_dir", "--image_size", "--crop",
                 "--filters", "--repeats", "--z_dim", "--h_dim", "--gamma", "--lambda_k",
                 "--eta", "--learning_rate", "--d_lr_ratio", "--beta1", "--batch_size", "--steps",
                 "--lr_decay_factor", "--lr_patience", "--min_learning_rate", "--workdir",
                 "--checkpoint_every", "--sample_every", "--seed", "--strategy",
                 "--num_gpus", "--export_base", "--model"):
        assert flag in r.stdout, flag
    assert "Berthelot et al. 2017" in r.stdout
    # Every shipped flagfile parses (absl rejects unknown flags in flagfiles).
    names = sorted(os.listdir(os.path.join(here, "flags")))
    assert "quickstart.flags" in names and "began_celeba_64.flags" in names
    code = (
        "import os, sys\n"
        "from absl import flags\n"
        "from tfbegan.cli import train\n"
        "train.define_flags()\n"
        "flags.FLAGS(['prog'])\n"
        "defaults = train.config_from_flags()\n"
        "for path in sys.argv[1:]:\n"
        "    flags.FLAGS.unparse_flags()\n"
        "    flags.FLAGS(['prog', '--flagfile=' + path])\n"
        "    config = train.config_from_flags()\n"
        "    if path.endswith('quickstart.flags'):\n"
        "        # quickstart.flags spells out exactly the no-flag run.\n"
        "        assert config == defaults, (config, defaults)\n"
        "    elif os.path.basename(path).startswith('mnist5k_'):\n"
        "        # The per-family presets on the embedded digits: each sets its model,\n"
        "        # the data at 32x32, and may slow D down (docs/results.md).\n"
        "        assert config.data.dataset == 'mnist5k', path\n"
        "        assert config.data.image_size == 32, path\n"
        "        assert os.path.basename(path) == 'mnist5k_' + config.model + '.flags' or \\\n"
        "            os.path.basename(path) == 'mnist5k_began_iqa.flags', path\n"
        "    else:\n"
        "        # Paper flagfiles train D and G at one rate (the papers' setting),\n"
        "        # not at the quickstart's slower D.\n"
        "        assert config.d_lr_ratio == 1.0, path\n"
        "print('parsed', len(sys.argv) - 1)\n")
    r = subprocess.run([sys.executable, "-c", code,
                        *[os.path.join(here, "flags", n) for n in names]],
                       capture_output=True, text=True, timeout=120, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"parsed {len(names)}" in r.stdout


def test_resume_in_process_with_changed_model_is_refused(tmp_path):
    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    kw = dict(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4)
    cfg = TrainConfig(model_kwargs=kw, data=DataConfig(image_size=8),
                      batch_size=4, steps=2, log_every=1, checkpoint_every=2,
                      sample_every=100)
    work = str(tmp_path / "run")
    out = train_lib.train(cfg, work)
    assert out["step"] == 2
    before = open(os.path.join(work, "config.json")).read()
    other = cfg.replace(model_kwargs={**kw, "filters": 8})
    with pytest.raises(ValueError, match="different run"):
        train_lib.train(other, work)
    assert open(os.path.join(work, "config.json")).read() == before
    assert [s for s, _ in checkpoints.list_checkpoints(work)] == [2]
    with pytest.raises(ValueError, match=r"d_lr_ratio: 1.0 -> 0.5"):
        train_lib.train(cfg.replace(d_lr_ratio=0.5), work)
    # A run written before a setting existed resumes when the setting is at its
    # default (config.json of an older version has no d_lr_ratio).
    saved = json.load(open(os.path.join(work, "config.json")))
    del saved["d_lr_ratio"]
    json.dump(saved, open(os.path.join(work, "config.json"), "w"))
    assert train_lib.train(cfg.replace(steps=3), work)["step"] == 3


def test_batch_not_divisible_by_replicas(tmp_path, two_replica_strategy):
    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    cfg = TrainConfig(model_kwargs=dict(image_size=8, channels=1, filters=4, z_dim=4,
                                        h_dim=4),
                      data=DataConfig(image_size=8), batch_size=3, steps=2)
    with pytest.raises(ValueError, match="batch_size=3 is not divisible by the 2"):
        train_lib.train(cfg, str(tmp_path / "run"), strategy=two_replica_strategy)
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_two_replica_train_lib_matches_single_device(tmp_path, two_replica_strategy):
    """train() under MirroredStrategy gives the losses and k of one device."""
    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    cfg = TrainConfig(model_kwargs=dict(image_size=8, channels=1, filters=4, z_dim=4,
                                        h_dim=4, lambda_k=0.05),
                      data=DataConfig(image_size=8), batch_size=4, steps=3,
                      log_every=1, checkpoint_every=3, sample_every=100)
    one = train_lib.train(cfg, str(tmp_path / "one"))
    two = train_lib.train(cfg, str(tmp_path / "two"), strategy=two_replica_strategy)
    np.testing.assert_allclose(one["k"], two["k"], rtol=1e-4, atol=1e-7)
    rows = [np.genfromtxt(tmp_path / d / "metrics.csv", delimiter=",", names=True)
            for d in ("one", "two")]
    for key in ("loss_real", "loss_fake", "m_global"):
        np.testing.assert_allclose(rows[0][key], rows[1][key], rtol=1e-4)


def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path):
    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    cfg = TrainConfig(model_kwargs=dict(image_size=8, channels=1, filters=4, z_dim=4,
                                        h_dim=4),
                      data=DataConfig(image_size=8), batch_size=4, steps=2,
                      log_every=1, checkpoint_every=2, sample_every=100)
    work = str(tmp_path / "run")
    train_lib.train(cfg, work)
    model, _ = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(work))
    # Poison the next checkpoint's weights through the callback hook.
    import keras

    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            for v in self.model.discriminator.trainable_variables[:1]:
                v.assign(v * np.nan)

    with pytest.raises(FloatingPointError, match=r"at step 3"):
        train_lib.train(cfg.replace(steps=6), work, extra_callbacks=[Poison()])
    assert [s for s, _ in checkpoints.list_checkpoints(work)] == [2]


def test_encoder_model_run_writes_reconstruction_grid(tmp_path):
    """Runs of models with an encoder end with x -> E(x) -> G(E(x)) as a PNG."""
    from PIL import Image

    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    cfg = TrainConfig(model="age", model_kwargs=dict(image_size=8, channels=1, filters=4,
                                                     z_dim=4, h_dim=4),
                      data=DataConfig(image_size=8), batch_size=4, steps=2,
                      log_every=1, checkpoint_every=2, sample_every=100)
    out = train_lib.train(cfg, str(tmp_path / "run"))
    assert out["reconstructions"] == str(tmp_path / "run" / "reconstructions.png")
    # 16 images in rows of 8: originals, reconstructions, originals, reconstructions;
    # 8x8 tiles, 2 px padding, scaled 2x -> width (8 * 10 + 2) * 2 = 164.
    width, height = Image.open(out["reconstructions"]).size
    assert width == 164 and height == (4 * 10 + 2) * 2


#: What the no-flag run must reach at its step 3,000: issue 16's targets (>= 70% named
#: with confidence > 0.9, every class 4-18%, digit-classifier FID <= 10, MS-SSIM within
#: 0.1 of real digits', k inside (0.02, 0.98) for most logged steps). Measured at one
#: thread (docs/results.md, "The no-flag run today"), seeds 0-4 meet them: FID 4.6-7.6 (seed 0,
#: the seed of this test: 7.6), 74-78% confident, every class 6.6-13.4%, k inside for
#: 53-57% of logged steps (the k share is the one with little margin).
CONFIDENT_SHARE = 0.70
FID = 10.0
K_INSIDE_SHARE = 0.5


@pytest.mark.large
def test_no_flag_run_draws_varied_digits(tmp_path):
    """Issue 16, end to end: ``tfbegan-train`` with no flags at all (3,000 steps of
    the DCGAN-style pair, 5-8 minutes on 2 CPU cores) must draw sharp digits of every
    class. Scored as ``tfbegan-evaluate --num=1000`` scores (digit classifier, 1,000
    samples)."""
    import csv

    from tfbegan.evaluation import sample_quality

    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tfbegan.cli.train"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=1800, env=ENV)
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr[-3000:]
    work = str(tmp_path / "tfbegan_run")
    assert os.path.isdir(os.path.join(work, "export", "generator", "1"))
    model, state = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(work))
    assert state["step"] == 3000
    generated = model.generate(model.sample_z(1000, seed=123)).numpy().clip(-1, 1)
    real = real_images.load_real_images("mnist5k", 1000, 32, model.channels, seed=0)
    net = features.DigitClassifier.train()
    assert net.accuracy > 0.9
    report = sample_quality.evaluate_images(generated, real, net, kid_subsets=10,
                                        kid_subset_size=500, ms_ssim_pairs=500)
    report["elapsed_s"] = elapsed
    hist = report["class_histogram"]
    assert report["confident_share"] >= CONFIDENT_SHARE, report
    assert min(hist) >= 0.04 and max(hist) <= 0.18, report
    assert report["fid"] <= FID, report
    assert abs(report["ms_ssim_generated"] - report["ms_ssim_real"]) <= 0.1, report
    with open(os.path.join(work, "metrics.csv")) as f:
        ks = [float(row["k"]) for row in csv.DictReader(f)]
    assert len(ks) == 30
    assert sum(0.02 < k < 0.98 for k in ks) / len(ks) >= K_INSIDE_SHARE, ks
    # The 10 minutes on a quiet 2-core CPU; a loaded test machine gets slack.
    assert elapsed < 1200, report

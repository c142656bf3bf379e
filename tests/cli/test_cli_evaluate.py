"""``tfbegan-evaluate`` and ``tfbegan-invert``.

The commands run in-process on a private ``absl.flags.FlagValues`` (the global
registry is shared with other CLIs' tests); the console scripts themselves run in
subprocesses in the ``large`` tests (slow: a fresh TensorFlow import each).
"""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags
from tiny_exports import export_tiny

from tfbegan.cli import evaluate as evaluate_cli
from tfbegan.cli import invert as invert_cli
from tfbegan.evaluation import features


def _execute(module, *args):
    """Parses ``args`` into a fresh FlagValues and runs the command in-process."""
    fv = flags.FlagValues()
    module.define_flags(fv)
    fv(["prog", *args])
    return module.execute(fv)


def _fails(module, capsys, *args):
    """Runs a command that must fail; returns its one stderr line."""
    with pytest.raises(SystemExit) as info:
        _execute(module, *args)
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


SIZES = {"filters": 4, "z_dim": 4, "h_dim": 4}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp("export"), "BEGAN", 0, **SIZES)[1]


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    # Untrained: the CLI plumbing, not the classifier, is under test here.
    net = features.DigitClassifier(features.build_digit_classifier(8), accuracy=0.5)
    return net.save(str(tmp_path_factory.mktemp("clf") / "digits8.keras"))


EVAL_ARGS = ("--num=40", "--kid_subsets=5", "--is_splits=2", "--ms_ssim_pairs=20",
             "--classifier_image_size=8")


def _check_report(report, exported, classifier_path):
    assert report["feature_network"] == "digit_classifier"
    assert "not InceptionV3" in report["feature_network_detail"]
    assert report["feature_network_path"] == classifier_path
    assert report["num_generated"] == 40 and report["num_real"] == 40
    assert report["dataset"] == "mnist5k"
    assert report["source"] == os.path.join(exported, "1")
    # An untrained generator is far from the digits.
    assert report["fid"] > 0 and report["kid"] > 0
    assert 1.0 <= report["is"] <= 10.0 and 1.0 <= report["is_real"] <= 10.0
    assert 0.0 <= report["confident_share"] <= 1.0
    assert len(report["class_histogram"]) == 10
    assert sum(report["class_histogram"]) == pytest.approx(1.0)
    for key in ("ms_ssim_generated", "ms_ssim_real"):
        assert 0.0 <= report[key] <= 1.0
    # SWD on pixels (one level at 8 px) and precision/recall, with their floors
    # (mnist5k holds 2 x 40 images).
    assert report["swd"] == report["swd_8"] > 0
    for key in ("fid", "kid", "swd", "swd_8", "precision", "recall"):
        assert f"{key}_floor" in report
    assert 0.0 <= report["precision"] <= 1.0 and 0.0 <= report["recall"] <= 1.0
    assert report["num_floor"] == 40


def test_evaluate_prints_one_json_line(exported, classifier_path, capsys):
    result = _execute(evaluate_cli, f"--export_dir={exported}", "--feature_net=digits",
                      f"--classifier_path={classifier_path}", *EVAL_ARGS)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report == json.loads(json.dumps(result))
    _check_report(report, exported, classifier_path)


def test_evaluate_checkpoint_matches_export(exported, classifier_path, tmp_path, capsys):
    """A training checkpoint and its export give the same numbers."""
    from tfbegan.training import checkpoints

    model, base, _ = export_tiny(tmp_path / "export", "BEGAN", 0, **SIZES)
    checkpoints.save_checkpoint(model, str(tmp_path), 7)
    args = (f"--classifier_path={classifier_path}", *EVAL_ARGS)
    from_ckpt = _execute(evaluate_cli, f"--checkpoint={tmp_path}", *args)
    from_export = _execute(evaluate_cli, f"--export_dir={base}", *args)
    assert from_ckpt["step"] == 7
    for key in ("fid", "kid", "is", "ms_ssim_generated", "ms_ssim_real"):
        assert from_ckpt[key] == pytest.approx(from_export[key], rel=1e-4, abs=1e-6)


def test_evaluate_one_line_errors(exported, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    line = _fails(evaluate_cli, capsys, f"--export_dir={exported}",
                  "--feature_net=inception")
    assert line.startswith("error: InceptionV3 ImageNet weights are not available")
    assert "--inception_weights=PATH" in line
    line = _fails(evaluate_cli, capsys, f"--export_dir={tmp_path / 'nope'}",
                  "--feature_net=inception", f"--inception_weights={tmp_path / 'w.h5'}")
    assert "does not exist" in line
    assert _fails(evaluate_cli, capsys) == ("error: pass --export_dir=SAVEDMODEL (or "
                                            "--checkpoint=PATH), or --train_classifier.")
    assert _fails(evaluate_cli, capsys, f"--export_dir={exported}", "--num=1") == \
        "error: --num=1 must be >= 2."
    assert _fails(evaluate_cli, capsys, "--report=distances") == \
        "error: --report=distances needs --run=WORKDIR."


def test_evaluate_trains_and_caches_a_missing_classifier(exported, tmp_path, capsys,
                                                         monkeypatch, caplog):
    # A fresh machine has no classifier: the first evaluation trains it (offline) and
    # caches it; the second only loads it. Training is replaced by a tiny one here.
    trained = []
    real_train = features.DigitClassifier.train.__func__

    def tiny_train(cls, image_size, epochs, seed, **kwargs):
        trained.append((image_size, epochs, seed))
        return real_train(cls, image_size, epochs=1, seed=seed, max_train=64)

    monkeypatch.setattr(features.DigitClassifier, "train", classmethod(tiny_train))
    path = tmp_path / "cache" / "digits8.keras"
    args = (f"--export_dir={exported}", f"--classifier_path={path}", *EVAL_ARGS)
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        first = _execute(evaluate_cli, *args)
    assert trained == [(8, 3, 0)] and path.is_file()
    assert f"no digit classifier at {path}; training it once" in caplog.text
    assert first["feature_network_path"] == str(path)
    caplog.clear()
    second = _execute(evaluate_cli, *args)
    assert trained == [(8, 3, 0)]            # loaded from the cache, not retrained
    assert "training it once" not in caplog.text
    assert second["fid"] == pytest.approx(first["fid"], rel=1e-6)
    capsys.readouterr()


def test_evaluate_train_classifier(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(features.DigitClassifier, "train", classmethod(
        lambda cls, size, epochs, seed: cls(features.build_digit_classifier(size),
                                            accuracy=0.5)))
    path = str(tmp_path / "clf.keras")
    result = _execute(evaluate_cli, "--train_classifier", f"--classifier_path={path}",
                      "--classifier_image_size=8")
    assert result["classifier_path"] == path and os.path.isfile(path)
    assert result["held_out_accuracy"] == 0.5
    assert features.DigitClassifier.load(path).accuracy == 0.5


def test_evaluate_distance_report(tmp_path, capsys):
    from tfbegan.evaluation import iqa

    with open(tmp_path / iqa.CSV_NAME, "w") as f:
        f.write("step,l1,gmsm,chrom\n10,0.5,0.25,\n20,0.3,0.15,\n")
    _execute(evaluate_cli, "--report=distances", f"--run={tmp_path}")
    report = json.loads(capsys.readouterr().out)
    assert report["evaluations"] == 2
    assert report["l1"]["mean"] == pytest.approx(0.4)
    assert report["gmsm"]["std"] == pytest.approx(0.05)
    assert "error: " in _fails(evaluate_cli, capsys, "--report=distances",
                               f"--run={tmp_path / 'empty'}")


def _check_grid(path, pairs, columns, size=8, scale=1):
    from PIL import Image

    grid = np.asarray(Image.open(path))
    # make_grid: rows * (size + 2) + 2 by columns * (size + 2) + 2 pixels.
    assert grid.shape == ((pairs * (size + 2) + 2) * scale,
                          (columns * (size + 2) + 2) * scale)


def test_invert_writes_figure4(exported, tmp_path, capsys):
    out = tmp_path / "fig4.png"
    result = _execute(invert_cli, f"--export_dir={exported}", "--dataset=mnist5k",
                      "--num_pairs=2", "--interpolated=3", "--inversion_steps=20",
                      "--upscale=1", f"--out={out}")
    assert json.loads(capsys.readouterr().out) == result
    assert result["pairs"] == 2 and result["columns"] == 3 + 4
    assert len(result["reconstruction_error"]) == 2
    _check_grid(out, 2, 7)
    assert capsys.readouterr().err == ""
    # Three images make one pair (the odd one is left out). The old flag names
    # (--images, --steps) still work, with one warning line each.
    folder = tmp_path / "imgs"
    folder.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((10, 10), 80 * i, np.uint8)).save(folder / f"{i}.png")
    result = _execute(invert_cli, f"--export_dir={exported}", f"--images={folder}",
                      "--steps=0", "--spherical", "--inversion_steps=5",
                      f"--out={tmp_path / 'b.png'}")
    assert result["pairs"] == 1 and result["columns"] == 4 and result["spherical"]
    assert capsys.readouterr().err.splitlines() == [
        f"warning: --{old} is deprecated: it is now --{new} (the old name is removed in "
        f"the next release)." for old, new in (("images", "dataset"),
                                               ("steps", "interpolated"))]
    _check_grid(tmp_path / "b.png", 1, 4, scale=2)


def test_invert_one_line_errors(exported, tmp_path, capsys):
    assert _fails(invert_cli, capsys, f"--export_dir={exported}", "--num_pairs=0") == \
        "error: --num_pairs=0 must be in [1, 64]."
    assert _fails(invert_cli, capsys) == \
        "error: pass --export_dir=SAVEDMODEL (or --checkpoint=PATH)."
    line = _fails(invert_cli, capsys, f"--export_dir={exported}",
                  f"--dataset={tmp_path / 'missing.png'}")
    assert "does not exist" in line
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), np.uint8))
    line = _fails(invert_cli, capsys, f"--export_dir={exported}",
                  f"--dataset={tmp_path / 'one.npy'}")
    assert "at least 2" in line
    # Before: a 51-line traceback ending "z must be finite (no NaN or Inf)".
    nan = np.zeros((4, 8, 8), np.float32)
    nan[1, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert _fails(invert_cli, capsys, f"--export_dir={exported}",
                  f"--dataset={tmp_path / 'nan.npy'}") == (
        f"error: --dataset={str(tmp_path / 'nan.npy')!r} holds NaN or Inf values "
        f"(image 1); the inversion needs finite pixels.")
    assert _fails(invert_cli, capsys, f"--export_dir={exported}", "--scale=2",
                  "--upscale=3") == ("error: --scale is the old name of --upscale; "
                                     "pass only --upscale.")


def test_corrupt_exports_and_checkpoints_are_one_line(exported, classifier_path,
                                                      tmp_path, capsys):
    """Before: tracebacks (IndexError: Read less bytes than requested; OpError: The
    length checksum does not match; an Assert on z's shape for a wrong z_dim) and
    "Expecting value: line 2 column 1" naming no file."""
    import shutil

    from tfbegan.training import checkpoints

    def broken(name, damage):
        copy = tmp_path / name
        shutil.copytree(os.path.join(exported, "1"), copy)
        damage(copy)
        return str(copy)

    def variables(copy):
        return copy / "variables" / "variables.data-00000-of-00001"

    def truncate(copy):
        os.truncate(variables(copy), os.path.getsize(variables(copy)) // 2)

    def scramble(copy):
        size = os.path.getsize(variables(copy))
        variables(copy).write_bytes(np.random.default_rng(0).bytes(size))

    def wrong_z_dim(copy):
        meta = copy / "assets.extra" / "tfbegan.json"
        meta.write_text(meta.read_text().replace('"z_dim": 4', '"z_dim": 7'))

    def bad_json(copy):
        (copy / "assets.extra" / "tfbegan.json").write_text("{\n")

    args = (f"--classifier_path={classifier_path}", *EVAL_ARGS)
    for name, damage, message in [
            ("trunc", truncate, "does not load (IndexError: Read less bytes"),
            ("rand", scramble, "does not load (OpError: "),
            ("zdim", wrong_z_dim, "says z_dim=7, but its signatures take z of size 4"),
            ("json", bad_json, "tfbegan.json {} is not valid JSON (line 2")]:
        path = broken(name, damage)
        line = _fails(evaluate_cli, capsys, f"--export_dir={path}", *args)
        assert message.format(os.path.join(path, "assets.extra", "tfbegan.json")) in line
        assert path in line
    # A corrupt newest checkpoint is skipped, as tfbegan-export skips it (left in
    # place); before: "error: checkpoint ... is not a readable .keras archive".
    model = export_tiny(tmp_path / "again", "BEGAN", 0, **SIZES)[0]
    work = str(tmp_path / "run")
    for step in (2, 4):
        checkpoints.save_checkpoint(model, work, step)
    os.truncate(checkpoints.latest_checkpoint(work), 100)
    assert _execute(evaluate_cli, f"--checkpoint={work}", *args)["step"] == 2
    result = _execute(invert_cli, f"--checkpoint={work}", "--num_pairs=1",
                      "--inversion_steps=2", f"--out={tmp_path / 'i.png'}")
    assert result["step"] == 2
    assert [s for s, _ in checkpoints.list_checkpoints(work)] == [2, 4]
    capsys.readouterr()


def _run(module, *args, env=None):
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                          text=True, env=full_env, timeout=600)


@pytest.mark.large
def test_console_scripts_end_to_end(exported, classifier_path, tmp_path):
    result = _run("tfbegan.cli.evaluate", f"--export_dir={exported}",
                  f"--classifier_path={classifier_path}", *EVAL_ARGS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    _check_report(json.loads(lines[0]), exported, classifier_path)
    bad = _run("tfbegan.cli.evaluate", f"--export_dir={exported}", "--num=1")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().splitlines()[-1] == "error: --num=1 must be >= 2."
    out = tmp_path / "fig4.png"
    result = _run("tfbegan.cli.invert", f"--export_dir={exported}", "--num_pairs=2",
                  "--interpolated=3", "--inversion_steps=20", "--upscale=1",
                  f"--out={out}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["columns"] == 7
    _check_grid(out, 2, 7)


def test_a_colour_model_against_the_digits_is_warned_about():
    """Before: an RGB model was scored against the grey digits without a word."""
    assert evaluate_cli.mismatch_warnings("digits", "mnist5k", 1) == []
    assert evaluate_cli.mismatch_warnings("digits", "mnist5k", 3) == [
        "this model draws colour images and --dataset=mnist5k holds grey digits: compare "
        "it with the images it was trained on (--dataset=folder:PATH or tfds:NAME)."]
    assert evaluate_cli.mismatch_warnings("inception", "folder:x", 3) == []
    assert evaluate_cli.mismatch_warnings("digits", "folder:x", 1)[0].startswith(
        "--feature_net=digits on --dataset=folder:x")


def _rgba_folder(directory, count):
    """``count`` 8x8 RGBA PNGs: a random opaque square on a transparent field."""
    from PIL import Image

    rng = np.random.default_rng(0)
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        pixels = np.zeros((8, 8, 4), np.uint8)
        pixels[2:6, 2:6, :3] = rng.integers(0, 256, 3)
        pixels[2:6, 2:6, 3] = 255
        Image.fromarray(pixels, "RGBA").save(os.path.join(directory, f"{i:02d}.png"))
    return directory


@pytest.fixture(scope="module")
def keras_classifier(tmp_path_factory):
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Dense(4, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    path = str(tmp_path_factory.mktemp("kc") / "three.keras")
    model.save(path)
    with open(path + ".json", "w") as f:
        json.dump({"accuracy": 0.5, "classes": ["x", "y", "z"]}, f)
    return path


def test_real_folder_images_are_composited_onto_white(tmp_path):
    from tfbegan.data import real_images

    real = real_images.load_real_images(f"folder:{_rgba_folder(tmp_path / 'd', 2)}", 2,
                                        8, 3)
    # The transparent field is white (1.0 in [-1, 1]) as in training.
    assert real.shape == (2, 8, 8, 3) and np.all(real[:, 0, 0] == 1.0)


def test_evaluate_a_folder_with_a_keras_classifier_and_floors(
        exported, keras_classifier, tmp_path, capsys, caplog):
    folder = _rgba_folder(tmp_path / "images", 12)
    args = (f"--export_dir={exported}", f"--dataset=folder:{folder}", "--num=6",
            "--feature_net=keras", f"--feature_model={keras_classifier}",
            "--kid_subsets=2", "--kid_subset_size=4", "--is_splits=2",
            "--ms_ssim_pairs=4")
    report = _execute(evaluate_cli, *args)
    assert report["feature_network"] == "keras_classifier"
    assert report["feature_network_path"] == keras_classifier
    assert report["class_names"] == ["x", "y", "z"]
    assert len(report["class_histogram"]) == 3
    assert report["num_floor"] == 6 and report["swd_floor"] >= 0
    assert {"fid_floor", "kid_floor", "precision_floor", "recall_floor"} <= set(report)
    capsys.readouterr()
    # 12 images hold two sets of 6, not of 7: an explicit --floors is an error...
    line = _fails(evaluate_cli, capsys, *args[:2], "--num=7", *args[3:], "--floors")
    assert line == (f"error: the real-vs-real floors need 2 x --num=7 = 14 images and "
                    f"--dataset=folder:{folder} holds 12: pass --num=6 at most, or "
                    f"--nofloors.")
    # ... the default leaves them out with a warning.
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        report = _execute(evaluate_cli, *args[:2], "--num=7", *args[3:])
    assert "swd" in report and "swd_floor" not in report
    assert "no floors reported" in caplog.text


def test_keras_feature_net_one_line_errors(exported, tmp_path, capsys):
    assert _fails(evaluate_cli, capsys, f"--export_dir={exported}",
                  "--feature_net=keras") == (
        "error: --feature_net=keras needs --feature_model=PATH (a .keras classifier).")
    line = _fails(evaluate_cli, capsys, f"--export_dir={exported}", "--feature_net=keras",
                  f"--feature_model={tmp_path / 'none.keras'}")
    assert line.startswith("error: feature model '") and "none.keras" in line
    assert "--feature_net=keras" in _fails(
        evaluate_cli, capsys, f"--export_dir={exported}", "--feature_model=x.keras")

"""``tfbegan-train --preset=NAME``: the packaged flagfiles by name."""

import os
import subprocess
import sys

import pytest

from tfbegan.cli import presets


def test_every_flagfile_is_a_preset():
    assert "quickstart" in presets.names() and "mnist5k_began" in presets.names()
    assert len(presets.names()) == len(os.listdir(presets.PRESET_DIR))
    for name in presets.names():
        assert os.path.isfile(presets.path(name))


def test_expand_replaces_the_preset_in_place():
    file = presets.path("mnist5k_began")
    assert presets.expand(["prog", "--steps=5", "--preset=mnist5k_began", "--seed=1"]) == [
        "prog", "--steps=5", f"--flagfile={file}", "--seed=1"]
    assert presets.expand(["prog", "--preset", "mnist5k_began"]) == [
        "prog", f"--flagfile={file}"]


@pytest.mark.parametrize("argv, message", [
    (["--preset=nope"], "--preset='nope' is not a packaged preset; choose one of: "),
    (["--preset=../setup"], "--preset='../setup' is not a packaged preset"),
    (["--preset"], "--preset needs a name"),
])
def test_unknown_preset_is_one_line(argv, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(
            ")", r"\)").replace(".", r"\.")):
        presets.expand(["prog"] + argv)


def test_train_cli_refuses_unknown_preset_before_any_work(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tfbegan.cli.train", "--preset=nope",
                           f"--workdir={tmp_path / 'run'}"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: --preset='nope' is not a packaged")
    assert "mnist5k_began" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_preset_values_reach_the_flags_and_later_flags_win():
    from tfbegan.cli import train

    train.define_flags()
    try:
        train.FLAGS.unparse_flags()
        train.FLAGS(presets.expand(["prog", "--preset=mnist5k_bigan", "--steps=7"]))
        assert train.FLAGS.model == "bigan" and train.FLAGS.steps == 7
        assert train.FLAGS.preset is None  # expanded: absl never saw it
    finally:
        train.FLAGS.unparse_flags()

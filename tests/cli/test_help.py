"""``--help`` of the installed commands lists each command's own flags and exits 0
(absl's lists the key flags of the console-script wrapper: none, exit 1)."""

import os
import shutil
import subprocess
import sys

import pytest

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def _help(command, *args):
    script = shutil.which(command)
    argv = ([script] if script else
            [sys.executable, "-m", f"tfbegan.cli.{command.split('-', 1)[1]}"])
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=120,
                          env=ENV)


def test_train_help_groups_the_flags_with_their_family():
    r = _help("tfbegan-train", "--help")
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    flags_part = out.split("\ndata:\n", 1)[1]
    titles = ["data:"] + [line for line in flags_part.splitlines()
                          if line.endswith(":") and not line.startswith(" ")]
    assert titles[:5] == ["data:", "model (every family):", "training:", "output:",
                          "devices and speed:"]
    assert "model: began flags (--model=began or denoising_began):" in titles
    assert "model: denoising_began flags (--model=denoising_began):" in titles
    denoising = out.split("model: denoising_began flags")[1].split("\n\n")[0]
    assert "--denoise_lambda (default: '2.0')" in denoising
    assert "--dataset (default: 'mnist5k')" in out.split("model (every family):")[0]
    assert "--tpu" not in out and "--helpfull" in out  # no absl/TF internals


@pytest.mark.parametrize("command, own", [
    ("tfbegan-evaluate", ("--dataset", "--feature_net", "--export_dir")),
    ("tfbegan-invert", ("--export_dir", "--num_pairs", "--dataset", "--interpolated",
                        "--upscale")),
    ("tfbegan-latent", ("--attribute", "--latent_data_dir", "--attribute_weights")),
    ("tfbegan-export", ("--workdir", "--export_base", "--max_batch")),
    ("tfbegan-sample", ("--export_dir", "--num", "--upscale", "--strip_length")),
])
def test_every_command_help_lists_its_own_flags(command, own):
    r = _help(command, "--help")
    assert r.returncode == 0, r.stderr[-2000:]
    for name in own:
        assert f"{name} (default:" in r.stdout, (name, r.stdout[:2000])
    assert "--tpu" not in r.stdout


def test_helpfull_exits_zero_with_every_flag():
    r = _help("tfbegan-invert", "--helpfull")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "--num_pairs" in r.stdout

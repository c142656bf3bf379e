"""What ``pip install .`` installs: the presets, the embedded digits, every command."""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_wheel_holds_presets_digits_and_the_client(tmp_path):
    # Built from a copy, so the checkout gets no build/ or egg-info.
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "tfbegan"), src / "tfbegan",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = (tmp_path / "dist").iterdir()
    with zipfile.ZipFile(wheel) as z:
        files = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in files
                            if n.endswith("entry_points.txt"))
    presets = sorted(os.listdir(os.path.join(ROOT, "tfbegan", "presets")))
    assert presets and all(f"tfbegan/presets/{p}" in files for p in presets)
    assert "tfbegan/data/mnist5k.npz" in files
    assert "tfbegan/serving/models.config" in files
    scripts = configparser.ConfigParser()
    scripts.read_string(entry_points)
    assert set(scripts["console_scripts"]) == {
        "tfbegan-train", "tfbegan-export", "tfbegan-sample", "tfbegan-evaluate",
        "tfbegan-invert", "tfbegan-latent", "tfbegan-client"}


def test_flags_folder_of_a_checkout_is_the_presets():
    assert os.path.realpath(os.path.join(ROOT, "flags")) == os.path.realpath(
        os.path.join(ROOT, "tfbegan", "presets"))

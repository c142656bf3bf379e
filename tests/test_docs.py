"""README.md and docs/*.md: every command names real flags and presets, every Python
snippet imports real names, every link points at a file in the repository, and (large)
every block runs on tiny settings."""

import ast
import importlib
import json
import os
import re
import subprocess
import sys

import docs_snippets as docs
import pytest

REPO = docs.REPO
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
#: Flags absl itself takes on every command.
ABSL_FLAGS = {"flagfile", "helpfull", "help", "helpshort", "verbosity", "v", "preset"}

LIST_FLAGS = """
import json, sys
from absl import flags
module = sys.argv[1]
if module == "tfbegan.serving.client":
    from tfbegan.serving import client
    actions = client._parser()._actions
    names = [s[2:] for a in actions for s in a.option_strings if s.startswith("--")]
    print(json.dumps({"flags": names, "deprecated": [], "booleans": []}))
    sys.exit()
import importlib
before = set(flags.FLAGS)
importlib.import_module(module).define_flags()
ours = [n for n in flags.FLAGS if n not in before or module.endswith(".train")]
print(json.dumps({
    "flags": ours,
    "deprecated": [n for n in ours if flags.FLAGS[n].help.startswith("Deprecated")],
    "booleans": [n for n in ours if flags.FLAGS[n].flag_type() == "bool"]}))
"""


@pytest.fixture(scope="module")
def command_flags():
    """``{command: {"flags", "deprecated", "booleans"}}``, each from a fresh process."""
    procs = {name: subprocess.Popen([sys.executable, "-c", LIST_FLAGS, module],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=ENV, cwd=REPO)
             for name, module in docs.COMMANDS.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-2000:]
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return out


def test_the_pages_hold_the_blocks_the_tests_read():
    found = docs.blocks()
    pages = {b.page for b in found}
    assert {"README.md", "docs/command_line.md", "docs/your_images.md",
            "docs/training_script.md", "docs/serving.md"} <= pages
    commands = [c for b in found if b.language == "bash" for c in docs.command_lines(b)]
    assert len(commands) > 50 and {c for c, _ in commands} == set(docs.COMMANDS)


def _documented_commands():
    """``[(where, command, arguments)]``: the bash blocks' and the inline ones."""
    found = [(str(block), command, arguments) for block in docs.blocks()
             if block.language == "bash" for command, arguments in docs.command_lines(block)]
    return found + docs.inline_commands()


def test_every_documented_command_uses_its_current_flags(command_flags):
    """A renamed or removed flag in the docs (``tfbegan-sample --scale``) fails here."""
    wrong, checked = [], 0
    for where, command, arguments in _documented_commands():
        known = command_flags[command]
        names = set(known["flags"]) | (ABSL_FLAGS if command != "tfbegan-client" else set())
        for name in docs.flag_names(arguments):
            base = name[2:] if name.startswith("no") and name[2:] in known["booleans"] \
                else name
            checked += 1
            if base not in names or base in known["deprecated"]:
                wrong.append(f"{where}: {command} --{name}")
    assert not wrong, "\n".join(wrong)
    assert checked > 300


def test_every_documented_preset_exists():
    presets = {os.path.splitext(n)[0] for n in os.listdir(os.path.join(REPO, "tfbegan",
                                                                        "presets"))}
    missing = []
    for where, _, arguments in _documented_commands():
        for a in arguments:
            m = re.fullmatch(r"--preset=([a-z0-9_]+)", a)  # NAME: a placeholder
            if m and m.group(1) not in presets:
                missing.append(f"{where}: {a}")
    assert not missing, "\n".join(missing)


def test_python_snippets_parse_and_import_real_names():
    wrong = []
    for block in docs.blocks():
        if block.language != "python":
            continue
        tree = ast.parse(block.text, filename=str(block))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfbegan"):
                module = importlib.import_module(node.module)
                wrong += [f"{block}: from {node.module} import {a.name}"
                          for a in node.names if not hasattr(module, a.name)
                          and importlib.util.find_spec(f"{node.module}.{a.name}") is None]
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("tfbegan"):
                        importlib.import_module(a.name)
    assert not wrong, "\n".join(wrong)


def test_links_point_at_files_in_the_repository():
    broken = []
    for page in docs.PAGES:
        text = open(os.path.join(REPO, page), encoding="utf-8").read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target) or target.startswith("#"):
                continue
            path = os.path.normpath(os.path.join(REPO, os.path.dirname(page),
                                                 target.split("#")[0]))
            if not os.path.exists(path):
                broken.append(f"{page}: {target}")
    assert not broken, "\n".join(broken)


def test_the_docs_name_no_internal_files():
    """Papers are named by authors and year; nothing links outside the repository."""
    bad = []
    for page in docs.PAGES:
        text = open(os.path.join(REPO, page), encoding="utf-8").read()
        for pattern in (r"\bseed \d{3}\b", r"\bpaper \d{3}\b", r"\.\./shared", r"DESIGN\.md"):
            bad += [f"{page}: {m}" for m in re.findall(pattern, text)]
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------ running them (large)

#: Flags appended to each documented command (later flags win), so that every block
#: runs in seconds: tiny networks, a few steps, few samples.
TINY = {
    "tfbegan-train": "--steps=4 --log_every=2 --checkpoint_every=2 --sample_every=2 "
                     "--batch_size=4 --filters=4 --z_dim=4 --h_dim=4 --image_size=8",
    "tfbegan-evaluate": "--num=20 --kid_subsets=2 --kid_subset_size=10 --ms_ssim_pairs=10 "
                        "--is_splits=2 --classifier_epochs=1",
    "tfbegan-invert": "--num_pairs=1 --inversion_steps=3",
    "tfbegan-latent": "--max_images=40 --num=2",
}
#: Commands a block may run that this test answers with success and nothing else.
NO_OPS = ("pip", "ruff", "docker", "curl", "tensorflow_model_server")
#: What a page assumes its reader has done first.
PAGE_SETUP = {"docs/serving.md": "tfbegan-train --export_base=\n",
              "docs/evaluation.md": "tfbegan-train\n"}
#: Python snippets' sizes, cut down the same way; every entry must be used.
PYTHON_TINY = [(r"epochs=\d+", "epochs=1"), (r"steps_per_epoch=\d+", "steps_per_epoch=2"),
               (r"total_steps=\d+", "total_steps=2"), (r"every_n_steps=\d+", "every_n_steps=1"),
               (r"num_samples=\d+", "num_samples=50")]
PYTHON_PRELUDE = """
import keras
from tfbegan.models import BEGAN
def make_model():
    model = BEGAN(image_size=32, channels=1, filters=4, z_dim=4, h_dim=4)
    model.compile(**model.make_optimizers(1e-4, 0.5))
    return model
model = make_model()  # for snippets that start from "a model in memory"
"""


def _sandbox(tmp_path):
    """A working directory with ``my_images/`` (drawn here) and ``bin/`` shims."""
    import numpy as np
    from PIL import Image

    images = tmp_path / "my_images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(
            images / f"{i}.png")
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, module in docs.COMMANDS.items():
        (shims / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@" '
                                  f'{TINY.get(name, "")}\n')
    for name in NO_OPS:
        (shims / name).write_text("#!/bin/sh\nexit 0\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    # Caches inside the sandbox: a tiny run's one-epoch digit classifier must never
    # become the user's cached one.
    env = {**ENV, "PATH": f"{shims}:{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "PYTHONPATH": REPO, "TFBEGAN_CACHE": str(tmp_path / "cache"),
           "KERAS_HOME": str(tmp_path / "keras")}
    return env


@pytest.mark.large
@pytest.mark.parametrize("page", docs.PAGES)
def test_every_block_of_a_page_runs_on_tiny_settings(page, tmp_path):
    """Each page's blocks run in order in one directory, as a reader would run them."""
    env = _sandbox(tmp_path)
    python = [PYTHON_PRELUDE]
    if page in PAGE_SETUP:
        r = subprocess.run(["bash", "-e", "-c", PAGE_SETUP[page]], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    for block in docs.blocks([page]):
        if block.skip:
            continue
        if block.language == "bash":
            r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.text],
                               cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=900)
            assert r.returncode == 0, f"{block}:\n{block.text}\n{r.stderr[-3000:]}"
        else:
            text = block.text
            for pattern, tiny in PYTHON_TINY:
                text = re.sub(pattern, tiny, text)
            python.append(text)
    if len(python) > 1:
        r = subprocess.run([sys.executable, "-c", "\n".join(python)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{page} (python):\n{r.stderr[-3000:]}"


def test_python_size_cuts_each_apply_somewhere():
    text = "".join(b.text for b in docs.blocks() if b.language == "python")
    assert all(re.search(pattern, text) for pattern, _ in PYTHON_TINY)

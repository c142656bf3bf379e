"""``--augment`` (DiffAugment, Zhao et al. 2020): which families read it, its model
arguments, and a tiny ``tfbegan-train --augment=...`` run end to end."""

import json
import os

from absl import flags
from test_train_cli import TINY, run_cli
from test_train_defaults import configs

from tfbegan.cli import flag_table, flags_began, flags_denoising, flags_vae_began, train
from tfbegan.cli.variants import FAMILIES
from tfbegan.training import checkpoints

POLICY = "color,translation,cutout"


def test_every_family_with_an_auto_encoder_d_reads_augment_and_no_other():
    tables = train.family_flags()
    readers = {model for model, families in FAMILIES.items()
               if any("augment" in tables[f] for f in families)}
    assert readers == {"began", "denoising_began", "vae_began"}


def test_model_kwargs_carry_the_policy():
    for module in (flags_began, flags_denoising, flags_vae_began):
        fv = flags.FlagValues()
        flags_began.define_flags(fv)
        module.define_flags(fv)
        fv(["prog"])
        assert module.model_kwargs(fv)["augment"] == "", module.__name__  # off
        fv = flags.FlagValues()
        flags_began.define_flags(fv)
        module.define_flags(fv)
        fv(["prog", "--augment=color, translation,cutout"])
        assert module.model_kwargs(fv)["augment"] == POLICY, module.__name__
    assert flag_table.model_kwargs((flags_began.AUGMENT,), fv) == {"augment": POLICY}


def test_the_resolved_config_of_each_family():
    out = configs(["--model=began"], ["--model=vae_began", "--augment=cutout, color"],
                  ["--model=denoising_began", "--augment=translation"],
                  ["--model=bigan", "--augment=color"], ["--model=age", "--augment=color"])
    assert out["--model=began"]["augment"] == ""  # off, and recorded
    assert out["--model=vae_began --augment=cutout, color"]["augment"] == "cutout,color"
    assert out["--model=denoising_began --augment=translation"]["augment"] == "translation"
    for model in ("bigan", "age"):
        assert f"does not apply to --model={model}" in out[
            f"--model={model} --augment=color"]["error"]


def test_train_with_augment_end_to_end(tmp_path):
    work = str(tmp_path / "run")
    r = run_cli(*TINY, "--steps=2", "--checkpoint_every=2", f"--workdir={work}",
                "--export_base=", "--augment=color, translation,cutout")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "step 2/2" in r.stderr
    with open(os.path.join(work, "config.json")) as f:
        assert json.load(f)["model_kwargs"]["augment"] == POLICY  # one spelling
    model, state = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(work))
    assert state["step"] == 2 and model.get_config()["augment"] == POLICY
    # The same run, the policy spelt without spaces: a resume, not a different run.
    r = run_cli(*TINY, "--steps=2", f"--workdir={work}", "--export_base=",
                f"--augment={POLICY}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "different run" not in r.stderr


def test_bad_policy_is_one_line_error(tmp_path):
    r = run_cli(*TINY, "--steps=2", "--export_base=", f"--workdir={tmp_path / 'run'}",
                "--augment=color,flip", timeout=120)
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "'flip' is not a DiffAugment policy; allowed: color, " \
        "translation, cutout" in errors[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr

"""tfbegan-train's defaults: the quickstart preset for the no-flag run only, each
model family's paper values otherwise, and flags that do not apply are errors."""

import json
import subprocess
import sys

import pytest

from tfbegan.cli.defaults import QUICKSTART

# Runs in a subprocess: the train CLI defines its flags on absl's global FLAGS.
CONFIGS = """
import json, sys
from absl import flags
from tfbegan.cli import presets, train
train.define_flags()
out = {}
for args in json.loads(sys.argv[1]):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(presets.expand(["prog", *args]))
    try:
        c = train.config_from_flags()
        out[" ".join(args)] = {"model": c.model, "learning_rate": c.learning_rate,
                               "d_lr_ratio": c.d_lr_ratio, "steps": c.steps,
                               "lr_decay_every": c.lr_decay_every,
                               "batch_size": c.batch_size,
                               "mixed_precision": c.mixed_precision, **c.model_kwargs}
    except ValueError as e:
        out[" ".join(args)] = {"error": str(e)}
print(json.dumps(out))
"""


def configs(*arg_lists):
    r = subprocess.run([sys.executable, "-c", CONFIGS, json.dumps(arg_lists)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def grey_folder(tmp_path_factory):
    """Two grey 20x20 PNGs: a folder run without --image_size/--channels trains at
    16 px (the largest power of two not above 20), 1 channel."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("grey")
    for i in range(2):
        Image.new("L", (20, 20), 40 * i).save(folder / f"{i}.png")
    return f"--dataset=folder:{folder}"


@pytest.fixture(scope="module")
def resolved(grey_folder):
    return configs([], ["--model=denoising_began"], ["--model=began"],
                   ["--model=began", "--batch_norm", "--skip_connections"],
                   ["--model=age"], ["--model=vae_began"], ["--model=bigan"],
                   ["--steps=3000"], ["--model=vae_began", "--gamma=0.3"],
                   ["--model=age", "--denoise_lambda=3"], ["--image_size=0"],
                   [grey_folder], [grey_folder, "--image_size=8", "--channels=3"],
                   [grey_folder, "--background=purple"],
                   [grey_folder, "--image_size=64", "--steps=7"],
                   [grey_folder, "--model=denoising_began"],
                   [grey_folder, "--preset=mnist5k_began"],
                   [grey_folder, "--denoise_lambda=3"], ["--dataset=mnist5k"])


def test_no_flag_run_is_the_quickstart_preset(resolved):
    c = resolved[""]
    for name, value in QUICKSTART.items():
        key = {"denoise_lambda": "lambda_noise"}.get(name, name)
        assert c[key] == value, (name, c[key], value)
    # A run without --model keeps the preset for every flag it does not give.
    assert resolved["--steps=3000"] == {**c, "steps": 3000}


def test_named_model_takes_its_paper_values(resolved):
    # Li et al. 2018 "ours": gamma 1, lambda_noise 2, batch norm and skip connections,
    # Berthelot et al. 2017's n = Nz = Nh = 64, one learning rate 1e-4.
    d = resolved["--model=denoising_began"]
    assert (d["gamma"], d["lambda_noise"], d["batch_norm"], d["skip_connections"]) == \
        (1.0, 2.0, True, True)
    assert (d["filters"], d["z_dim"], d["h_dim"]) == (64, 64, 64)
    assert (d["learning_rate"], d["d_lr_ratio"], d["lr_decay_every"]) == (1e-4, 1.0, 0)
    # The quickstart's network, batch and dtype stay out of the paper runs.
    assert (d["architecture"], d["batch_size"], d["mixed_precision"]) == ("began", 16, None)
    b = resolved["--model=began"]
    assert (b["gamma"], b["lambda_k"], b["eta"], b["batch_norm"]) == (0.5, 0.001, 1, False)
    assert resolved["--model=vae_began"]["learning_rate"] == 5e-5  # Khan et al. 2018
    assert resolved["--model=bigan"]["learning_rate"] == 2e-4      # Donahue et al. 2017
    # The no-flag run's slower D never reaches AGE, which has no discriminator.
    age = resolved["--model=age"]
    assert (age["learning_rate"], age["d_lr_ratio"]) == (2e-4, 1.0)


def test_began_passes_on_its_architecture_flags(resolved):
    # These were accepted and silently dropped for --model=began.
    b = resolved["--model=began --batch_norm --skip_connections"]
    assert b["batch_norm"] is True and b["skip_connections"] is True


def test_flag_of_another_family_is_an_error(resolved):
    assert resolved["--model=vae_began --gamma=0.3"] == {
        "error": "--gamma is a flag of --model=began and does not apply to "
                 "--model=vae_began."}
    assert "does not apply to --model=age" in \
        resolved["--model=age --denoise_lambda=3"]["error"]


def test_folder_channels_and_size_come_from_the_data_unless_given(resolved, grey_folder):
    no_flag = resolved[""]
    assert (no_flag["image_size"], no_flag["channels"]) == (32, 1)  # mnist5k unchanged
    chosen = resolved[grey_folder]
    assert (chosen["image_size"], chosen["channels"]) == (16, 1)
    given = resolved[f"{grey_folder} --image_size=8 --channels=3"]
    assert (given["image_size"], given["channels"]) == (8, 3)
    assert "background='purple'" in resolved[f"{grey_folder} --background=purple"]["error"]


def test_image_size_message_matches_the_help(resolved):
    assert "a power of two in [8, 256]" in resolved["--image_size=0"]["error"]


TRAIN_EACH = """
import sys
from absl import flags
from tfbegan.cli import presets, train
from tfbegan.training import train_lib
train.define_flags()
for model in sys.argv[2:]:
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["prog", "--model=" + model])
    config = train.config_from_flags().replace(
        steps=1, log_every=1, checkpoint_every=1, sample_every=1, export_base=None)
    out = train_lib.train(config, f"{sys.argv[1]}/{model}")
    print(model, out["step"])
"""


@pytest.mark.large  # 86 s: five families at their full default size
def test_every_model_trains_with_no_other_flag(tmp_path):
    models = ["began", "denoising_began", "vae_began", "bigan", "age"]
    r = subprocess.run([sys.executable, "-c", TRAIN_EACH, str(tmp_path), *models],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == [w for m in models for w in (m, "1")]


def test_generator_ema_flag_reaches_the_model_kwargs():
    # The CLI's resolved config (model kwargs merged in).
    out = configs(["--model=began"], ["--model=began", "--generator_ema=0.999"],
                  ["--model=denoising_began", "--generator_ema=0.99"],
                  ["--model=bigan", "--generator_ema=0.99"])
    assert out["--model=began"]["generator_ema"] == 0.0  # off, and recorded
    assert out["--model=began --generator_ema=0.999"]["generator_ema"] == 0.999
    assert out["--model=denoising_began --generator_ema=0.99"]["generator_ema"] == 0.99
    assert "does not apply to --model=bigan" in out["--model=bigan --generator_ema=0.99"][
        "error"]


def test_renamed_family_flags_keep_working_for_one_release():
    out = configs(["--model=denoising_began", "--ha_weight=0.3"],
                  ["--model=denoising_began", "--denoise_ha_weight=0.3"],
                  ["--model=denoising_began", "--pull_away_weight=0.2",
                   "--latent_constraint_weight=0.1"],
                  ["--model=denoising_began", "--ha_weight=0.3", "--denoise_ha_weight=0.3"])
    assert out["--model=denoising_began --ha_weight=0.3"]["ha_weight"] == 0.3
    assert out["--model=denoising_began --denoise_ha_weight=0.3"]["ha_weight"] == 0.3
    both = out["--model=denoising_began --pull_away_weight=0.2 --latent_constraint_weight=0.1"]
    assert both["pull_away_weight"] == 0.2 and both["latent_constraint_weight"] == 0.1
    assert out["--model=denoising_began --ha_weight=0.3 --denoise_ha_weight=0.3"]["error"] == (
        "--ha_weight is the old name of --denoise_ha_weight; pass only --denoise_ha_weight.")


def test_renamed_flag_prints_one_deprecation_line():
    r = subprocess.run([sys.executable, "-c", CONFIGS,
                        json.dumps([["--model=denoising_began", "--ha_weight=0.3"]])],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if "deprecated" in ln]
    assert len(lines) == 1 and lines[0].endswith(
        "--ha_weight is deprecated: it is now --denoise_ha_weight (the old name is removed "
        "in the next release).")


def test_a_dataset_without_a_model_takes_the_recipe_for_its_size(resolved, grey_folder):
    """tfbegan.cli.recipes: Berthelot et al. 2017's BEGAN sized to the images, in place
    of the digits' quickstart; flags given still win."""
    r16 = resolved[grey_folder]
    assert (r16["model"], r16["architecture"], r16["filters"], r16["repeats"]) == \
        ("began", "began", 64, 2)
    assert (r16["batch_size"], r16["learning_rate"], r16["gamma"], r16["lambda_k"],
            r16["steps"]) == (16, 1e-4, 0.7, 0.01, 4000)
    assert r16["augment"] == ""  # measured worse on the emoji (docs/your_images.md)
    r64 = resolved[f"{grey_folder} --image_size=64 --steps=7"]
    assert (r64["filters"], r64["repeats"], r64["steps"]) == (16, 1, 7)


def test_the_recipe_gives_way_to_a_model_or_a_preset(resolved, grey_folder):
    assert resolved[f"{grey_folder} --model=denoising_began"]["architecture"] == "began"
    assert resolved[f"{grey_folder} --model=denoising_began"]["steps"] == 1000
    preset = resolved[f"{grey_folder} --preset=mnist5k_began"]
    assert preset["model"] == "began" and preset["architecture"] == "dcgan"
    # The embedded digits, named or not, keep the no-flag run's preset.
    assert resolved["--dataset=mnist5k"] == resolved[""]
    assert resolved[f"{grey_folder} --denoise_lambda=3"]["error"] == (
        "--denoise_lambda is a flag of --model=denoising_began and does not apply to "
        "--model=began.")


def test_recipe_table_covers_every_image_size():
    from tfbegan.checks import check_image_size
    from tfbegan.cli import recipes

    for size in (8, 16, 32, 64, 128, 256):
        check_image_size(size)
        assert recipes.choose(size)["model"] == "began"
    with pytest.raises(ValueError, match="image_size=48 has no recipe"):
        recipes.choose(48)
    line = recipes.describe(recipes.choose(64), 64, 3781)
    assert line.startswith("recipe for 3,781 images at 64 px: --model=began --filters=16 "
                           "--repeats=1 --batch_size=16 --steps=3000")


def test_recipe_line_names_the_values_the_run_takes(grey_folder):
    """Regression: the line named the recipe's --filters=32 when --filters=16 was given."""
    script = ("import logging, sys\n"
              "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
              "from absl import flags\nfrom tfbegan.cli import train\n"
              "train.define_flags()\nflags.FLAGS(['prog', *sys.argv[1:]])\n"
              "train.config_from_flags()\n")
    r = subprocess.run([sys.executable, "-c", script, grey_folder, "--filters=8",
                        "--steps=5"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    line = [x for x in r.stderr.splitlines() if x.startswith("recipe for ")]
    assert len(line) == 1 and line[0].startswith(
        "recipe for 2 images at 16 px: --model=began --filters=8 --repeats=2 "
        "--batch_size=16 --steps=5 --gamma=0.7 --lambda_k=0.01 "), line

"""BiGAN (Donahue et al. 2017): losses, gradient isolation, replicas, round trip, flags."""

import os
import subprocess
import sys

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from tfbegan.cli import flags_bigan
from tfbegan.models import BiGAN
from tfbegan.models.bigan import bigan_losses

TINY = {**checks.TINY, "d_units": 8}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_images = checks.images
_sgd = checks.compile_sgd


def _model(**overrides):
    keras.utils.set_random_seed(11)
    return BiGAN(**{**TINY, **overrides})


# ---------------------------------------------------------------------- losses
def test_losses_hand_computed():
    # sigma(0) = .5, sigma(2) = .880797, sigma(-1) = .268941, sigma(1) = .731059:
    # E log D(x,E(x)) = (log .5 + log .880797) / 2 = -0.410038
    # E log(1 - D(G(z),z)) = (log .731059 + log .268941) / 2 = -0.813262
    real, fake = tf.constant([0.0, 2.0]), tf.constant([-1.0, 1.0])
    ns = {k: float(v) for k, v in bigan_losses(real, fake, True).items()}
    mm = {k: float(v) for k, v in bigan_losses(real, fake, False).items()}
    assert ns["value"] == pytest.approx(-1.2232993, abs=1e-6)
    assert ns["d_loss"] == pytest.approx(1.2232993, abs=1e-6)
    assert ns["g_loss"] == pytest.approx(0.8132617, abs=1e-6)   # -E log D(G(z), z)
    assert ns["e_loss"] == pytest.approx(1.4100376, abs=1e-6)   # -E log(1 - D(x, E(x)))
    assert mm["g_loss"] == pytest.approx(-0.8132617, abs=1e-6)  # E log(1 - D(G(z), z))
    assert mm["e_loss"] == pytest.approx(-0.4100376, abs=1e-6)  # E log D(x, E(x))
    assert mm["d_loss"] == pytest.approx(ns["d_loss"])
    assert ns["d_real"] == pytest.approx(0.6903985, abs=1e-6)
    assert ns["d_fake"] == pytest.approx(0.5, abs=1e-6)


def test_losses_stable_for_large_logits():
    out = bigan_losses(tf.constant([80.0]), tf.constant([-80.0]), True)
    assert float(out["d_loss"]) == pytest.approx(0.0, abs=1e-6)
    assert float(out["g_loss"]) == pytest.approx(80.0, rel=1e-6)
    assert np.isfinite(float(out["e_loss"]))


def test_compute_losses_wires_the_networks():
    model = _model()
    x = tf.constant(_images())
    z = model.sample_z(4, seed=5)
    out = model.compute_losses(x, z, training=False)
    e_x = model.encoder(x)
    assert np.all(np.abs(e_x.numpy()) < 1.0)  # tanh: inside the U[-1, 1] support
    np.testing.assert_allclose(out["z_real"], e_x, atol=1e-6)
    logits_real = model.discriminator([x, e_x]).numpy()
    logits_fake = model.discriminator([model.generator(z), z]).numpy()
    assert logits_real.shape == (4,)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    np.testing.assert_allclose(float(out["d_loss"]), -np.mean(np.log(sig(logits_real)))
                               - np.mean(np.log(1.0 - sig(logits_fake))), rtol=1e-5)
    np.testing.assert_allclose(float(out["g_loss"]), -np.mean(np.log(sig(logits_fake))),
                               rtol=1e-5)
    np.testing.assert_allclose(float(out["e_loss"]),
                               -np.mean(np.log(1.0 - sig(logits_real))), rtol=1e-5)


def test_prior_and_api():
    model = _model()
    z = model.sample_z(64, seed=1, counter=2)
    assert model.prior == "uniform" and model.has_encoder
    assert z.shape == (64, 4) and float(tf.reduce_min(z)) >= -1 and float(tf.reduce_max(z)) <= 1
    np.testing.assert_array_equal(z, model.sample_z(64, seed=1, counter=2))
    assert model.generate(3, seed=0).shape == (3, 8, 8, 1)
    assert model.encode(_images(2)).shape == (2, 4)
    assert model.reconstruct(_images(2)).shape == (2, 8, 8, 1)
    assert model.convergence_metric in model.metric_names()
    with pytest.raises(ValueError, match="d_units=0"):
        BiGAN(**{**TINY, "d_units": 0})
    with pytest.raises(ValueError, match="non_saturating='yes'"):
        BiGAN(**{**TINY, "non_saturating": "yes"})
    with pytest.raises(ValueError, match="image_size=12"):
        BiGAN(**{**TINY, "image_size": 12})


# ---------------------------------------------------------------------- updates
@pytest.mark.parametrize("non_saturating", [True, False])
def test_each_optimizer_uses_only_its_own_loss(non_saturating):
    # The minimax game's step takes one backward pass through D for all three
    # networks (d_loss = -(g_loss + e_loss)); the update must be the same.
    model = _model(non_saturating=non_saturating)
    _sgd(model, 0.1)
    # The other losses do reach these weights: taking them would change the update.
    checks.assert_sgd_step_applies_own_gradients(model, _images(), 0.1, wrong=("d", "g"))
    assert [int(o.iterations) for o in model.optimizers] == [1, 1, 1]


@pytest.mark.parametrize("non_saturating", [True, False])
def test_two_replicas_equal_one(two_replica_strategy, non_saturating):
    def make():
        model = _model(non_saturating=non_saturating)
        _sgd(model, 0.05)
        return model

    checks.assert_two_replicas_equal_one(make, two_replica_strategy, _images(8, seed=4),
                                  ("d_loss", "g_loss", "e_loss", "recon_l1"))


def test_keras_round_trip_resumes_exactly(tmp_path):
    x = _images(8, seed=2)
    model = _model(non_saturating=False)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, x, str(tmp_path / "bigan.keras"))
    assert [int(o.iterations) for o in loaded.optimizers] == [2, 2, 2]
    checks.assert_resumes_exactly(model, loaded, x)


# ---------------------------------------------------------------------- CLI
def test_flags_and_registry():
    from tfbegan.cli.variants import VARIANTS
    from tfbegan.models import MODELS

    assert MODELS["bigan"] is BiGAN
    assert VARIANTS["bigan"] == "tfbegan.cli.flags_bigan"
    fv = flags.FlagValues()
    flags_bigan.define_flags(fv)
    fv(["prog", "--bigan_d_units=8", "--nobigan_non_saturating"])
    kwargs = flags_bigan.model_kwargs(fv)
    # Every flag is passed, defaults included.
    assert kwargs == {"d_units": 8, "non_saturating": False, "d_dropout": 0.0,
                      "prior": "uniform", "cycle_weight": 0.0, "batch_norm": False,
                      "architecture": "began"}
    model = BiGAN(**{**TINY, **kwargs})
    assert model.get_config()["non_saturating"] is False


def _flagfile_names(path):
    names = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("--"):
                name = line[2:].split("=", 1)[0]
                names.append(name[2:] if name.startswith("no") and "=" not in line
                             and name[2:].startswith(("bigan_", "age_")) else name)
    return names


@pytest.mark.parametrize("family", ["bigan", "age"])
def test_flagfile_names_exist(family):
    import importlib
    import re

    module = importlib.import_module(f"tfbegan.cli.flags_{family}")
    fv = flags.FlagValues()
    module.define_flags(fv)
    with open(os.path.join(REPO, "tfbegan", "cli", "train.py")) as f:
        core = set(re.findall(r'DEFINE_\w+\(\s*"(\w+)"', f.read()))
    names = _flagfile_names(os.path.join(REPO, "flags", f"{family}_mnist5k.flags"))
    assert "model" in names and "dataset" in names
    unknown = [n for n in names if n not in core and n not in fv]
    assert not unknown, unknown
    assert any(n.startswith(f"{family}_") for n in names)


@pytest.mark.large
def test_flagfiles_parse():
    # Subprocess: the train CLI defines its flags on the global FlagValues.
    code = (
        "from tfbegan.cli import train\n"
        "# Only these two families: the others' flag modules are not under test.\n"
        "train.VARIANTS = {k: train.VARIANTS[k] for k in ('bigan', 'age')}\n"
        "train.define_flags()\n"
        "import sys\n"
        "for name in ('bigan', 'age'):\n"
        "    train.FLAGS.unparse_flags()\n"
        "    train.FLAGS(['prog', f'--flagfile=flags/{name}_mnist5k.flags'])\n"
        "    c = train.config_from_flags()\n"
        "    print(c.model, sorted(c.model_kwargs.items()))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("bigan ") and "('non_saturating', True)" in lines[0]
    assert lines[1].startswith("age ") and "('lambda_z', 1000.0)" in lines[1]


# ---------------------------------------------------------------------- preset options
def test_discriminator_dropout_and_batch_norm_round_trip(tmp_path):
    model = _model(d_dropout=0.3, batch_norm=True)
    names = [layer.name for layer in model.discriminator.layers]
    assert "discriminator_drop_in" in names and "discriminator_drop_joint" in names
    assert not any("drop" in layer.name for layer in _model().discriminator.layers)
    assert any(layer.name.endswith("_bn") for layer in model.generator.layers)
    # Dropout is active in training only: inference logits are deterministic.
    x, z = tf.constant(_images(4)), model.sample_z(4, seed=1)
    a = model.discriminator([x, z], training=False)
    np.testing.assert_allclose(a, model.discriminator([x, z], training=False))
    b = model.discriminator([x, z], training=True)
    assert not np.allclose(a, b)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, _images(8, seed=2), str(tmp_path / "bigan.keras"))
    assert loaded.d_dropout == 0.3 and loaded.model_config.batch_norm
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="d_dropout"):
            _model(d_dropout=bad)
    fv = flags.FlagValues()
    flags_bigan.define_flags(fv)
    fv(["prog", "--bigan_d_dropout=0.2", "--bigan_batch_norm"])
    kwargs = flags_bigan.model_kwargs(fv)
    assert kwargs["d_dropout"] == 0.2 and kwargs["batch_norm"] is True


def test_normal_prior_has_a_linear_encoder(tmp_path):
    model = _model(prior="normal")
    assert model.prior == "normal" and _model().prior == "uniform"
    x = tf.constant(_images(4))
    pre = model.encoder.get_layer("encoder_net")(x)
    np.testing.assert_allclose(model.encoder(x), pre, rtol=1e-6)  # no tanh
    z = model.sample_z(2000, seed=0).numpy()
    assert abs(z.std() - 1.0) < 0.05 and np.abs(z).max() > 1.0
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, _images(8, seed=2), str(tmp_path / "bigan_n.keras"))
    assert loaded.prior == "normal"
    with pytest.raises(ValueError, match="prior"):
        _model(prior="sphere")
    fv = flags.FlagValues()
    flags_bigan.define_flags(fv)
    fv(["prog", "--bigan_prior=normal"])
    assert flags_bigan.model_kwargs(fv)["prior"] == "normal"

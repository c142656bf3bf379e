"""BiGAN's ALICE cycle term (Li et al. 2017): ``cycle_weight``, ``--bigan_cycle_weight``."""

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


def _model(**overrides):
    keras.utils.set_random_seed(11)
    return BiGAN(**{**TINY, **overrides})


def _blind_discriminator(model):
    """Zeroes D's logit kernel: D(x, z) is then its bias for every pair, so no
    adversarial gradient reaches G or E."""
    layer = model.discriminator.get_layer("discriminator_logit")
    layer.kernel.assign(tf.zeros_like(layer.kernel))


@pytest.mark.parametrize("non_saturating", [True, False])
def test_cycle_term_is_added_to_g_and_e_losses(non_saturating):
    model = _model(cycle_weight=2.5, non_saturating=non_saturating)
    x = tf.constant(checks.images(4))
    z = model.sample_z(4, seed=1)
    out = model.compute_losses(x, z, training=False)
    plain = bigan_losses(model.discriminator([x, out["z_real"]]),
                         model.discriminator([out["fake"], z]), non_saturating)
    # By hand: 2.5 * mean |x - G(E(x))| over every pixel of the batch.
    rec = model.generator(model.encoder(x)).numpy()
    cycle = 2.5 * np.abs(x.numpy() - rec).mean()
    assert float(out["cycle"]) == pytest.approx(cycle, rel=1e-5)
    assert float(out["g_loss"]) == pytest.approx(float(plain["g_loss"]) + cycle, rel=1e-5)
    assert float(out["e_loss"]) == pytest.approx(float(plain["e_loss"]) + cycle, rel=1e-5)
    assert float(out["d_loss"]) == pytest.approx(float(plain["d_loss"]), rel=1e-5)
    assert "cycle" not in _model().compute_losses(x, z, training=False)


@pytest.mark.parametrize("non_saturating", [True, False])
def test_cycle_term_trains_the_encoder_when_d_gives_no_gradient(non_saturating):
    # With a blind D the BiGAN game leaves E where it is; the cycle term alone moves
    # E and G, and the step applies exactly its gradient (both games' update paths).
    x = checks.images(4)
    for weight in (0.0, 1.0):
        model = _model(cycle_weight=weight, non_saturating=non_saturating)
        _blind_discriminator(model)
        checks.compile_sgd(model, 0.1)
        before = [v.numpy() for v in model.encoder.trainable_variables]
        z = model.sample_z(4, model.seed, 0)
        with tf.GradientTape() as tape:
            out = model.compute_losses(tf.constant(x), z, training=True)
        grads = tape.gradient(out["e_loss"], model.encoder.trainable_variables)
        model.train_on_batch(x)
        moved = max(float(np.abs(v.numpy() - b).max())
                    for v, b in zip(model.encoder.trainable_variables, before, strict=True))
        if weight == 0.0:
            assert moved == 0.0
            continue
        assert moved > 1e-4
        for old, g, new in zip(before, grads, model.encoder.trainable_variables,
                               strict=True):
            np.testing.assert_allclose(new.numpy(), old - 0.1 * g.numpy(), atol=1e-6)


def test_cycle_steps_apply_own_gradients_and_lower_the_reconstruction_error():
    model = _model(cycle_weight=1.0)
    checks.compile_sgd(model, 0.1)
    checks.assert_sgd_step_applies_own_gradients(model, checks.images(), 0.1,
                                                 wrong=("d", "g"))
    # Eight multiples of one pattern: a one-parameter family E and G can learn.
    x = np.linspace(-0.8, 0.8, 8, dtype="float32")[:, None, None, None] * \
        checks.images(1, seed=5)
    model = _model(cycle_weight=5.0)
    _blind_discriminator(model)
    model.compile(**{f"{name}_optimizer": keras.optimizers.Adam(1e-2)
                     for name, _ in model.optimizer_networks})
    first = float(model.compute_losses(tf.constant(x), model.sample_z(8), False)["cycle"])
    for _ in range(30):
        model.train_on_batch(x)
    last = float(model.compute_losses(tf.constant(x), model.sample_z(8), False)["cycle"])
    assert last < 0.5 * first


def test_cycle_weight_validated_round_trip_and_flag(tmp_path):
    for bad in (-0.1, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="cycle_weight"):
            _model(cycle_weight=bad)
    assert _model().get_config()["cycle_weight"] == 0.0
    model = _model(cycle_weight=0.5)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, checks.images(8, seed=2),
                                  str(tmp_path / "bigan_cycle.keras"))
    assert loaded.cycle_weight == 0.5 and loaded.get_config()["cycle_weight"] == 0.5
    fv = flags.FlagValues()
    flags_bigan.define_flags(fv)
    fv(["prog"])
    assert flags_bigan.model_kwargs(fv)["cycle_weight"] == 0.0
    fv = flags.FlagValues()
    flags_bigan.define_flags(fv)
    fv(["prog", "--bigan_cycle_weight=0.5"])
    assert flags_bigan.model_kwargs(fv)["cycle_weight"] == 0.5

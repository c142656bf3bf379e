"""AGE's options (Ulyanov et al. 2018): from the authors' public code, Delta with the
fitted variance in the place of the standard deviation (``kl_form``) and the cosine
latent match averaged over latent dimensions (``latent_distance``); ours, L_X's
g(e(x)) with g's moving batch-norm statistics (``recon_moving_statistics``); and the
authors' code's adaptive adversary weight (``adaptive_adversary``)."""

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from tfbegan.cli import flags_age
from tfbegan.losses.age import (
    adaptive_adversary_update,
    age_losses,
    fit_gaussian,
    gaussian_kl_to_standard,
    ideal_delta,
    kl_variance_as_std,
    latent_distance,
)
from tfbegan.models import AGE

TINY = checks.TINY


_sgd = checks.compile_sgd


def _model(**overrides):
    keras.utils.set_random_seed(11)
    return AGE(**{**TINY, **overrides})


def test_kl_variance_as_std_hand_computed():
    z = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, -1.0]], np.float32)
    mean, var = fit_gaussian(z)
    # m = (0.533333, -0.066667), v = (0.168889, 0.542222) (biased);
    # 0.5 (v^2 + m^2) - log v - 0.5 = 1.434998 and 0.261304; mean over 2 dims:
    assert float(kl_variance_as_std(mean, var, epsilon=0.0)) == pytest.approx(
        0.848151, abs=1e-5)
    # The Gaussian reading of the same batch is 0.347648: the forms differ.
    assert float(gaussian_kl_to_standard(mean, var, epsilon=0.0)) == pytest.approx(
        0.347648, abs=1e-5)
    # Minimum on the sphere at m = 0, v = 1 / M (the authors' "ideal KL"):
    # M = 2: 0.5 * 0.25 + log 2 - 0.5 = 0.318147.
    assert float(kl_variance_as_std(tf.zeros(2), tf.fill([2], 0.5), 0.0)) == (
        pytest.approx(0.318147, abs=1e-6))
    # A collapsing batch: the log term weighs twice the Gaussian KL's.
    small = tf.fill([2], 1e-4)
    ratio = float(kl_variance_as_std(tf.zeros(2), small, 0.0)) / float(
        gaussian_kl_to_standard(tf.zeros(2), small, 0.0))
    assert ratio == pytest.approx(2.0, abs=0.15)


def test_cosine_latent_distance_hand_computed():
    z = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    z_fake = np.array([[0.6, 0.8], [0.0, -1.0]], np.float32)
    # cos = 0.6 and -1: ((1 - 0.6) + (1 + 1)) / 2 / M = 1.2 / 2 = 0.6; squared l2 2.4.
    assert float(latent_distance(z, z_fake, "cosine")) == pytest.approx(0.6, abs=1e-6)
    assert float(latent_distance(z, z_fake)) == pytest.approx(2.4, abs=1e-6)
    assert float(latent_distance(z, z, "cosine")) == pytest.approx(0.0, abs=1e-6)


def test_cosine_has_the_authors_match_gradient():
    # The authors' 'cos' match: 2 - mean over batch and dimensions of z_n * e_n.
    rng = np.random.RandomState(0)
    z = tf.math.l2_normalize(tf.constant(rng.normal(size=(5, 3)), tf.float32), -1)
    e = tf.Variable(rng.normal(size=(5, 3)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        ours = latent_distance(z, e, "cosine")
        theirs = 2.0 - tf.reduce_mean(z * tf.math.l2_normalize(e, -1))
    np.testing.assert_allclose(tape.gradient(ours, e), tape.gradient(theirs, e),
                               atol=1e-6)
    assert float(theirs - ours) == pytest.approx(2.0 - 1.0 / 3, abs=1e-5)


def test_age_losses_use_the_options():
    x = np.zeros((2, 2, 1, 1), np.float32)
    z = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    z_fake = np.array([[0.6, 0.8], [0.0, -1.0]], np.float32)
    z_real = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32)
    out = age_losses(x, z, z_real, z_fake, x, lambda_z=3.0, mu_x=2.0,
                     kl_form="variance_as_std", distance="cosine")
    d_fake = float(kl_variance_as_std(*fit_gaussian(z_fake)))
    d_real = float(kl_variance_as_std(*fit_gaussian(z_real)))
    assert float(out["delta_fake"]) == pytest.approx(d_fake, abs=1e-5)
    assert float(out["l_z"]) == pytest.approx(0.6, abs=1e-6)
    assert float(out["g_loss"]) == pytest.approx(d_fake - d_real + 3.0 * 0.6, abs=1e-4)
    default = age_losses(x, z, z_real, z_fake, x, lambda_z=3.0, mu_x=2.0)
    assert float(default["l_z"]) == pytest.approx(2.4, abs=1e-6)
    assert abs(float(default["delta_fake"]) - d_fake) > 0.1


def test_model_options_validated_kept_and_trained(tmp_path):
    for kwargs, name in (({"kl_form": "std"}, "kl_form='std'"),
                         ({"latent_distance": "l1"}, "latent_distance='l1'")):
        with pytest.raises(ValueError, match=name):
            _model(**kwargs)
    assert _model().get_config()["kl_form"] == "gaussian"  # full config: defaults too
    model = _model(kl_form="variance_as_std", latent_distance="cosine", g_steps=2)
    x = tf.constant(checks.images(4, seed=1))
    out = model.compute_losses(x, model.sample_z(4, seed=2), training=False)
    z_fake = model.encoder(model.generator(model.sample_z(4, seed=2)))
    np.testing.assert_allclose(out["l_z"], latent_distance(model.sample_z(4, seed=2),
                                                           z_fake, "cosine"), rtol=1e-5)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, checks.images(8, seed=2),
                                  str(tmp_path / "age_code.keras"))
    assert loaded.kl_form == "variance_as_std" and loaded.latent_distance == "cosine"


def test_flags():
    fv = flags.FlagValues()
    flags_age.define_flags(fv)
    fv(["prog"])
    assert flags_age.model_kwargs(fv)["kl_form"] == "gaussian"
    fv(["prog", "--age_kl_form=variance_as_std", "--age_latent_distance=cosine",
        "--age_recon_moving_statistics", "--age_adaptive_adversary"])
    kwargs = flags_age.model_kwargs(fv)
    assert kwargs["kl_form"] == "variance_as_std"
    assert kwargs["latent_distance"] == "cosine"
    assert kwargs["recon_moving_statistics"] is True
    assert kwargs["adaptive_adversary"] is True


def test_recon_moving_statistics_uses_gs_inference_normalisation():
    x = tf.constant(checks.images(6, seed=4))
    z = _model().sample_z(6, seed=5)
    values = {}
    for option in (False, True):
        model = _model(batch_norm=True, architecture="dcgan",
                       recon_moving_statistics=option)
        # Moving statistics away from their initial (0, 1), as after training.
        model.generator(model.sample_z(6, seed=8) * 3.0, training=True)
        before = [v.numpy() for v in model.generator.non_trainable_variables]
        out = model.compute_losses(x, z, training=True)
        z_real = model.encoder(x, training=True)
        inference = np.mean(np.abs(x - model.generator(z_real, training=False)))
        values[option] = (float(out["l_x"]), float(inference))
        # The g(z) call alone moves g's statistics; compare with one such call.
        model2 = _model(batch_norm=True, architecture="dcgan")
        model2.generator.set_weights(model.generator.get_weights())
        for var, old in zip(model2.generator.non_trainable_variables, before, strict=True):
            var.assign(old)
        model2.generator(z, training=True)
        same = all(np.allclose(a.numpy(), b.numpy()) for a, b in zip(
            model.generator.non_trainable_variables,
            model2.generator.non_trainable_variables, strict=True))
        assert same is option
    assert values[True][0] == pytest.approx(values[True][1], rel=1e-5)
    assert abs(values[False][0] - values[False][1]) > 1e-3
    assert _model(recon_moving_statistics=True).get_config()["recon_moving_statistics"]
    with pytest.raises(ValueError, match="recon_moving_statistics=1"):
        _model(recon_moving_statistics=1)


def test_ideal_delta_and_adaptive_update_hand_computed():
    # gaussian, M = 64: 0.5 (1/64 - 1 + log 64) = 1.587254; the authors' form, M = 2:
    # 0.5 / 4 + log 2 - 0.5 = 0.318147 (their get_ideal_KL(2)).
    assert ideal_delta(64) == pytest.approx(1.587254, abs=1e-6)
    assert ideal_delta(2, "variance_as_std") == pytest.approx(0.318147, abs=1e-6)
    z = tf.math.l2_normalize(tf.random.stateless_normal((4096, 8), (1, 2)), -1)
    assert float(latent_divergence_of(z)) == pytest.approx(ideal_delta(8), abs=0.01)
    # Below 1.05 x ideal: +0.001; either Delta above it: +0.001 - 0.02; floor 0.
    assert float(adaptive_adversary_update(0.5, 1.0, 1.04, 1.0)) == pytest.approx(0.501)
    assert float(adaptive_adversary_update(0.5, 1.06, 1.0, 1.0)) == pytest.approx(0.481)
    assert float(adaptive_adversary_update(0.5, 1.0, 1.2, 1.0)) == pytest.approx(0.481)
    assert float(adaptive_adversary_update(0.01, 2.0, 2.0, 1.0)) == 0.0


def latent_divergence_of(z):
    return gaussian_kl_to_standard(*fit_gaussian(z))


def test_adaptive_adversary_weights_e_loss_and_follows_the_deltas(tmp_path):
    model = _model(adaptive_adversary=True)
    assert "adv_weight" in model.metric_names() and "adv_weight" not in (
        _model().metric_names())
    x = tf.constant(checks.images(4, seed=1))
    z = model.sample_z(4, seed=2)
    model.adversary_weight.assign(0.25)
    out = model.compute_losses(x, z, training=False)
    expected = 10.0 * out["l_x"] + out["delta_real"] - 0.25 * out["delta_fake"]
    assert float(out["e_loss"]) == pytest.approx(float(expected), rel=1e-5)
    assert float(out["g_loss"]) == pytest.approx(
        float(out["delta_fake"] - out["delta_real"] + 1000.0 * out["l_z"]), rel=1e-5)
    # A fresh tiny model: 4 latents of 4 dimensions sit far from the sphere's moments,
    # so every step drops the weight by 0.019.
    model.adversary_weight.assign(1.0)
    _sgd(model, 0.01)
    logs = model.train_on_batch(x, return_dict=True)
    assert float(model.adversary_weight.numpy()) == pytest.approx(0.981, abs=1e-6)
    assert logs["adv_weight"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="adaptive_adversary='yes'"):
        _model(adaptive_adversary="yes")
    loaded = checks.fit_save_load(model, checks.images(8, seed=2),
                                  str(tmp_path / "age_adaptive.keras"))
    assert float(loaded.adversary_weight.numpy()) == pytest.approx(
        float(model.adversary_weight.numpy()))


def _inputs():
    x = tf.constant(checks.images(4, seed=1))
    return x, _model().sample_z(4, seed=2)


def _losses_with_and_without(**option):
    """compute_losses of the same networks (same seed) with ``option`` and without."""
    x, z = _inputs()
    return (_model(**option).compute_losses(x, z, training=False),
            _model().compute_losses(x, z, training=False))


def test_kl_fake_weight_fixed_and_as_the_adaptive_start():
    out, ref = _losses_with_and_without(kl_fake_weight=0.5)
    # Same networks (same seed): e's loss moves by 0.5 Delta(e(g(Z))), g's does not.
    assert float(out["e_loss"] - ref["e_loss"]) == pytest.approx(
        0.5 * float(ref["delta_fake"]), rel=1e-5)
    assert float(out["g_loss"]) == pytest.approx(float(ref["g_loss"]), rel=1e-6)
    model = _model(kl_fake_weight=0.5, adaptive_adversary=True)
    assert float(model.adversary_weight.numpy()) == 0.5
    assert model.get_config()["kl_fake_weight"] == 0.5
    assert _model().get_config()["kl_fake_weight"] == 1.0
    with pytest.raises(ValueError, match="kl_fake_weight=-1"):
        _model(kl_fake_weight=-1.0)
    fv = flags.FlagValues()
    flags_age.define_flags(fv)
    fv(["prog", "--age_kl_fake_weight=0.5"])
    assert flags_age.model_kwargs(fv)["kl_fake_weight"] == 0.5


def test_encoder_real_statistics_keeps_e_moving_statistics_real_only():
    x = tf.constant(checks.images(6, seed=4))
    for option in (False, True):
        model = _model(batch_norm=True, architecture="dcgan",
                       encoder_real_statistics=option)
        ref = _model(batch_norm=True, architecture="dcgan")
        ref.set_weights(model.get_weights())
        model.compute_losses(x, model.sample_z(6, seed=5), training=True)
        ref.encoder(x, training=True)  # the real batch's update alone
        same = all(np.allclose(a.numpy(), b.numpy()) for a, b in zip(
            model.encoder.non_trainable_variables, ref.encoder.non_trainable_variables,
            strict=True))
        assert same is option
    model = _model(batch_norm=True, architecture="dcgan", encoder_real_statistics=True,
                   g_steps=2)
    ref = _model(batch_norm=True, architecture="dcgan")
    ref.set_weights(model.get_weights())
    _sgd(model, 0.01)
    model.train_on_batch(x)  # the extra generator step must not move them either
    ref.encoder(x, training=True)
    for a, b in zip(model.encoder.non_trainable_variables,
                    ref.encoder.non_trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert model.get_config()["encoder_real_statistics"] is True
    with pytest.raises(ValueError, match="encoder_real_statistics=0"):
        _model(encoder_real_statistics=0)


def test_g_mu_x_adds_the_image_term_to_gs_loss_only():
    x, z = _inputs()
    out, ref = _losses_with_and_without(g_mu_x=3.0)
    # (g_loss carries 1000 L_Z: float32 leaves ~1e-4 of it in the difference.)
    assert float(out["g_loss"] - ref["g_loss"]) == pytest.approx(
        3.0 * float(ref["l_x"]), abs=1e-3)
    assert float(out["e_loss"]) == pytest.approx(float(ref["e_loss"]), rel=1e-6)
    # The added term reaches g's weights (through g(e(x))).
    model = _model(g_mu_x=3.0)
    with tf.GradientTape() as tape:
        l_x = model.compute_losses(x, z, training=False)["l_x"]
    grads = tape.gradient(l_x, model.generator.trainable_variables)
    assert max(float(tf.reduce_max(tf.abs(g))) for g in grads if g is not None) > 0
    assert _model(g_mu_x=3.0).get_config()["g_mu_x"] == 3.0
    assert _model().get_config()["g_mu_x"] == 0.0
    with pytest.raises(ValueError, match="g_mu_x=-1"):
        _model(g_mu_x=-1.0)
    fv = flags.FlagValues()
    flags_age.define_flags(fv)
    fv(["prog", "--age_g_mu_x=3"])
    assert flags_age.model_kwargs(fv)["g_mu_x"] == 3.0

"""AGE (Ulyanov et al. 2018): Delta, losses, gradient isolation, replicas, round trip,
training, reconstruction grids and the ``encode`` export."""

import json
import os
import subprocess
import sys

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from PIL import Image

from tfbegan import imaging
from tfbegan.cli import flags_age
from tfbegan.evaluation.reconstruction import reconstruction_grid, save_reconstruction_grid
from tfbegan.losses.age import age_losses, fit_gaussian, gaussian_kl_to_standard
from tfbegan.models import AGE, BiGAN, priors

TINY = checks.TINY


_images = checks.images
_sgd = checks.compile_sgd


def _model(**overrides):
    keras.utils.set_random_seed(11)
    return AGE(**{**TINY, **overrides})


def _kl_numpy(latents, sigma2=1.0, eps=0.0):
    """Closed form KL(N(m, diag s^2) || N(0, sigma2 I)) / M, s^2 the biased variance
    (+ eps, as the model's VARIANCE_EPSILON)."""
    z = np.asarray(latents, np.float64)
    m, s2 = z.mean(0), z.var(0) + eps
    return np.mean(0.5 * (s2 / sigma2 + m ** 2 / sigma2 - 1 - np.log(s2) + np.log(sigma2)))


# ---------------------------------------------------------------------- Delta
def test_gaussian_fit_kl_hand_computed():
    z = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, -1.0]], np.float32)
    mean, var = fit_gaussian(z)
    # m = (1.6/3, -0.2/3); s^2 = (0.506667/3, 1.626667/3) (biased, divide by N).
    np.testing.assert_allclose(mean, [0.5333333, -0.0666667], atol=1e-6)
    np.testing.assert_allclose(var, [0.1688889, 0.5422222], atol=1e-6)
    # 0.5 (m^2 + s^2 - 1 - log s^2) = 0.615924 and 0.079373; mean over 2 dims:
    delta = float(gaussian_kl_to_standard(mean, var, epsilon=0.0))
    assert delta == pytest.approx(0.3476484, abs=1e-6)
    assert delta == pytest.approx(_kl_numpy(z), abs=1e-6)
    # Default epsilon 1e-6 barely moves it; a batch at N(0, I)'s moments gives 0.
    assert float(gaussian_kl_to_standard(mean, var)) == pytest.approx(delta, abs=1e-5)
    assert float(gaussian_kl_to_standard(tf.zeros(3), tf.ones(3), 0.0)) == 0.0


def test_delta_on_sphere_differs_from_sphere_moment_match_by_a_constant():
    # Unit vectors: sum_j (m_j^2 + s_j^2) = 1, so KL to N(0, I) and to N(0, I / M)
    # differ by the same constant for every batch (same gradients, see age.py).
    m = 6
    offsets = []
    for seed in range(3):
        z = priors.sample("sphere", 32, m, seed).numpy()
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-6)
        delta = float(gaussian_kl_to_standard(*fit_gaussian(z), epsilon=0.0))
        assert delta == pytest.approx(_kl_numpy(z), abs=1e-5)
        offsets.append(delta - _kl_numpy(z, sigma2=1.0 / m))
    np.testing.assert_allclose(offsets, offsets[0], atol=1e-5)
    # Per dimension: 0.5 mean_j(m_j^2 + s_j^2) (1 - M) - 0.5 log(1 / M), mean = 1 / M.
    assert offsets[0] == pytest.approx(0.5 * (1.0 / m - 1.0) - 0.5 * np.log(1.0 / m),
                                       abs=1e-5)


def test_age_losses_hand_computed():
    x = np.array([[[[0.5]], [[-1.0]]], [[[0.0]], [[1.0]]]], np.float32)   # [2, 2, 1, 1]
    recon = np.array([[[[0.0]], [[-1.0]]], [[[0.5]], [[0.0]]]], np.float32)
    z = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    z_fake = np.array([[0.6, 0.8], [0.0, -1.0]], np.float32)
    z_real = np.array([[0.6, 0.8], [1.0, 0.0]], np.float32)
    out = {k: float(v) for k, v in age_losses(x, z, z_real, z_fake, recon,
                                              lambda_z=3.0, mu_x=2.0).items()}
    # L_X = mean(|.5-0|, 0, |0-.5|, |1-0|) = 2/4; L_Z = ((.4^2+.8^2) + (0+2^2)) / 2 = 2.4
    assert out["l_x"] == pytest.approx(0.5, abs=1e-6)
    assert out["l_z"] == pytest.approx(2.4, abs=1e-6)
    d_fake, d_real = _kl_numpy(z_fake), _kl_numpy(z_real)
    assert out["delta_fake"] == pytest.approx(d_fake, abs=1e-5)
    assert out["delta_real"] == pytest.approx(d_real, abs=1e-5)
    assert out["v2"] == pytest.approx(d_fake - d_real, abs=1e-5)
    assert out["g_loss"] == pytest.approx(d_fake - d_real + 3.0 * 2.4, abs=1e-4)
    assert out["e_loss"] == pytest.approx(2.0 * 0.5 - (d_fake - d_real), abs=1e-5)


def test_compute_losses_wires_the_networks():
    model = _model()
    x = tf.constant(_images())
    z = model.sample_z(4, seed=5)
    out = model.compute_losses(x, z, training=False)
    e, g = model.encoder, model.generator
    z_real, z_fake = e(x).numpy(), e(g(z)).numpy()
    np.testing.assert_allclose(np.linalg.norm(z_real, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out["delta_real"], _kl_numpy(z_real, eps=1e-6), rtol=1e-4)
    np.testing.assert_allclose(out["delta_fake"], _kl_numpy(z_fake, eps=1e-6), rtol=1e-4)
    np.testing.assert_allclose(out["l_x"], np.mean(np.abs(x - g(z_real))), rtol=1e-5)
    np.testing.assert_allclose(out["l_z"], np.mean(np.sum((z - z_fake) ** 2, 1)), rtol=1e-5)
    assert float(out["recon_l1"]) == float(out["l_x"])


def test_sphere_prior_and_api():
    model = _model()
    assert model.prior == "sphere" and model.has_encoder
    z = model.sample_z(16, seed=1, counter=2)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(z, model.sample_z(16, seed=1, counter=2))
    assert not np.allclose(z, model.sample_z(16, seed=1, counter=3))
    assert model.generate(3, seed=0).shape == (3, 8, 8, 1)
    np.testing.assert_allclose(np.linalg.norm(model.encode(_images(2)), axis=1), 1.0,
                               atol=1e-5)
    assert model.convergence_metric in model.metric_names()
    with pytest.raises(ValueError, match="lambda_z=-1"):
        AGE(**{**TINY, "lambda_z": -1})
    with pytest.raises(ValueError, match="mu_x=nan"):
        AGE(**{**TINY, "mu_x": float("nan")})
    with pytest.raises(ValueError, match="g_steps=0"):
        AGE(**{**TINY, "g_steps": 0})
    with pytest.raises(ValueError, match="z_dim=1"):
        AGE(**{**TINY, "z_dim": 1})
    with pytest.raises(ValueError, match="prior='ball'"):
        priors.sample("ball", 2, 2, 0)


# ---------------------------------------------------------------------- updates
def test_each_optimizer_uses_only_its_own_loss():
    model = _model()
    _sgd(model, 0.01)
    # e's own loss (mu L_X - V2) and g's loss both reach e: they must not be mixed.
    checks.assert_sgd_step_applies_own_gradients(model, _images(), 0.01, wrong=("g", "e"),
                                          atol=1e-5, rtol=1e-4)


def test_extra_generator_steps_use_fresh_z():
    lr = 0.01
    model = _model(g_steps=2)
    _sgd(model, lr)
    x = _images()
    z0, z1 = model.sample_z(4, model.seed, 0), model.sample_z(4, model.seed, 1)
    model.train_on_batch(x)
    # Replay: the joint step (e and g on z0), then a g-only step on z1.
    ref = _model(g_steps=2)
    with tf.GradientTape(persistent=True) as tape:
        out = ref.compute_losses(tf.constant(x), z0, training=True)
    e_vars, g_vars = ref.encoder.trainable_variables, ref.generator.trainable_variables
    e_grads = tape.gradient(out["e_loss"], e_vars)
    g_grads = tape.gradient(out["g_loss"], g_vars)
    for v, g in zip(e_vars, e_grads, strict=True):
        v.assign(v - lr * g)
    for v, g in zip(g_vars, g_grads, strict=True):
        v.assign(v - lr * g)
    after_joint = [v.numpy() for v in g_vars]
    with tf.GradientTape() as tape:
        z_fake = ref.encoder(ref.generator(z1))
        loss = gaussian_kl_to_standard(*fit_gaussian(z_fake)) + ref.lambda_z * tf.reduce_mean(
            tf.reduce_sum(tf.square(z1 - z_fake), axis=-1))
    for v, g in zip(g_vars, tape.gradient(loss, g_vars), strict=True):
        v.assign(v - lr * g)
    # The g-only step moves weights far more than the tolerance below.
    assert max(np.max(np.abs(v.numpy() - w))
               for v, w in zip(g_vars, after_joint, strict=True)) > 1e-2
    for a, b in zip(model.trainable_variables, ref.trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4, rtol=1e-4)
    assert [int(o.iterations) for o in model.optimizers] == [1, 2]


def test_two_replicas_equal_one(two_replica_strategy):
    x = _images(8, seed=4)
    # The Gaussian fit is not a mean of per-sample terms: per-replica fits differ
    # from the global one, so equality below needs the all-reduced moments.
    z = priors.sample("sphere", 4, 4, 0).numpy()
    halves = np.mean([_kl_numpy(z[:2]), _kl_numpy(z[2:])])
    assert abs(halves - _kl_numpy(z)) > 1e-2

    def make():
        model = _model()
        _sgd(model, 0.002)
        return model

    checks.assert_two_replicas_equal_one(make, two_replica_strategy, x, (
        "g_loss", "e_loss", "delta_real", "delta_fake", "l_z", "recon_l1"))


def test_keras_round_trip_resumes_exactly(tmp_path):
    x = _images(8, seed=2)
    model = _model(lambda_z=50.0, mu_x=3.0, g_steps=2)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, x, str(tmp_path / "age.keras"))
    assert loaded.lambda_z == 50.0 and loaded.mu_x == 3.0 and loaded.g_steps == 2
    # Two steps: e updated twice, g twice per step (g_steps = 2).
    assert [int(o.iterations) for o in loaded.optimizers] == [2, 4]
    checks.assert_resumes_exactly(model, loaded, x)


def test_training_reduces_reconstruction_error():
    from tfbegan.data.mnist5k import load_mnist5k

    images, _ = load_mnist5k(8)
    x = np.array(images[np.random.RandomState(0).choice(len(images), 64, replace=False)])
    keras.utils.set_random_seed(0)
    model = AGE(image_size=8, channels=1, filters=8, repeats=1, z_dim=8, h_dim=8,
                        seed=1)  # paper lambda = 1000, mu = 10
    model.compile(**model.make_optimizers(2e-3, 0.5))
    before = float(np.mean(np.abs(model.reconstruct(x) - x)))
    model.fit(x, batch_size=16, epochs=5, verbose=0)  # 20 steps
    after = float(np.mean(np.abs(model.reconstruct(x) - x)))
    # Measured: 0.826 -> 0.786.
    assert after < 0.97 * before, (before, after)


# ---------------------------------------------------------------------- grids
def test_reconstruction_grid_png(tmp_path):
    model = _model()
    x = _images(5, seed=7)
    path = save_reconstruction_grid(str(tmp_path / "recon.png"), model.encode,
                                    model.generate, x, columns=3)
    grid = np.asarray(Image.open(path))
    # 2 pairs of rows (5 images, 3 per row), 8x8 tiles, 2 px padding.
    assert grid.shape == (4 * 10 + 2, 3 * 10 + 2)
    recon = model.generate(model.encode(x)).numpy()
    np.testing.assert_array_equal(grid[2:10, 2:10], imaging.to_uint8(x[0])[..., 0])
    np.testing.assert_array_equal(grid[12:20, 2:10], imaging.to_uint8(recon[0])[..., 0])
    np.testing.assert_array_equal(grid[22:30, 12:20], imaging.to_uint8(x[4])[..., 0])
    np.testing.assert_array_equal(grid[32:40, 12:20], imaging.to_uint8(recon[4])[..., 0])
    assert np.all(grid[22:30, 22:30] == 255)  # padding tile of the short last row
    one_row = reconstruction_grid(model.encode, model.generate, x[:2])
    assert one_row.shape == (2 * 10 + 2, 2 * 10 + 2, 1)
    with pytest.raises(ValueError, match="columns=0"):
        reconstruction_grid(model.encode, model.generate, x, columns=0)


# ---------------------------------------------------------------------- CLI
def test_flags_and_registry():
    from tfbegan.cli.variants import VARIANTS
    from tfbegan.models import MODELS

    assert MODELS["age"] is AGE
    assert VARIANTS["age"] == "tfbegan.cli.flags_age"
    fv = flags.FlagValues()
    flags_age.define_flags(fv)
    fv(["prog"])
    kwargs = flags_age.model_kwargs(fv)
    assert {k: kwargs[k] for k in ("lambda_z", "mu_x", "g_steps")} == {
        "lambda_z": 1000.0, "mu_x": 10.0, "g_steps": 1}
    fv(["prog", "--age_lambda_z=5", "--age_mu_x=0.5", "--age_g_steps=3"])
    kwargs = flags_age.model_kwargs(fv)
    assert {k: kwargs[k] for k in ("lambda_z", "mu_x", "g_steps")} == {
        "lambda_z": 5.0, "mu_x": 0.5, "g_steps": 3}


# ---------------------------------------------------------------------- export
_LOAD_SCRIPT = r"""
import json, sys
sys.modules["tfbegan"] = None  # importing tfbegan now fails: prove it is not needed
import numpy as np
import tensorflow as tf
out = {}
for name, path in json.loads(sys.argv[1]).items():
    loaded = tf.saved_model.load(path)
    x = np.load(path + ".x.npy")
    out[name] = {
        "signatures": sorted(loaded.signatures),
        "z": loaded.signatures["encode"](images=tf.constant(x))["z"].numpy().tolist(),
    }
print(json.dumps(out))
"""


def test_export_encode_signature(tmp_path):
    export = pytest.importorskip("tfbegan.serving.export")
    x = _images(3, seed=9)
    model = _model()
    path = export.export_generator(model, str(tmp_path / "age"))
    loaded = tf.saved_model.load(path)
    z = loaded.signatures["encode"](images=tf.constant(x))["z"]
    np.testing.assert_allclose(z, model.encode(x), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    images = loaded.signatures["serving_default"](z=z)["images_float"]
    np.testing.assert_allclose(images, np.clip(model.reconstruct(x), -1, 1), atol=1e-5)


@pytest.mark.large
def test_export_encode_reloads_without_tfbegan(tmp_path):
    export = pytest.importorskip("tfbegan.serving.export")
    x = _images(3, seed=9)
    paths, expected = {}, {}
    for name, cls, extra in (("age", AGE, {}), ("bigan", BiGAN,
                                                        {"d_units": 8})):
        keras.utils.set_random_seed(5)
        model = cls(**TINY, **extra)
        path = export.export_generator(model, str(tmp_path / name))
        np.save(path + ".x.npy", x)
        paths[name], expected[name] = path, model.encode(x).numpy()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", _LOAD_SCRIPT, json.dumps(paths)],
                         cwd=str(tmp_path), env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for name in paths:
        assert "encode" in result[name]["signatures"]
        assert "serving_default" in result[name]["signatures"]
        np.testing.assert_allclose(result[name]["z"], expected[name], atol=1e-5)


# ---------------------------------------------------------------------- preset options
def test_encoder_learning_rate_ratio():
    model = _model(e_lr_ratio=0.5)
    opts = model.make_optimizers(2e-4, 0.5)
    assert float(opts["e_optimizer"].learning_rate) == pytest.approx(1e-4)
    assert float(opts["g_optimizer"].learning_rate) == pytest.approx(2e-4)
    assert opts["e_optimizer"].beta_1 == 0.5
    one = _model().make_optimizers(2e-4, 0.5)
    assert float(one["e_optimizer"].learning_rate) == pytest.approx(2e-4)
    for bad in (0.0, -1.0, 101.0, float("nan")):
        with pytest.raises(ValueError, match="e_lr_ratio"):
            _model(e_lr_ratio=bad)


def test_batch_norm_networks_round_trip(tmp_path):
    x = _images(8, seed=2)
    model = _model(batch_norm=True, e_lr_ratio=0.5, g_steps=2)
    names = [layer.name for net in (model.generator, model.encoder.get_layer("encoder_net"))
             for layer in net.layers]
    assert any(n.endswith("_bn") for n in names)
    assert not any(n.endswith("_bn") for n in (
        layer.name for layer in _model().generator.layers))
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, x, str(tmp_path / "age_bn.keras"))
    assert loaded.model_config.batch_norm and loaded.e_lr_ratio == 0.5
    assert float(loaded.e_optimizer.learning_rate) == pytest.approx(5e-4)


def test_preset_flags():
    fv = flags.FlagValues()
    flags_age.define_flags(fv)
    fv(["prog", "--age_e_lr_ratio=0.5", "--age_batch_norm"])
    kwargs = flags_age.model_kwargs(fv)
    assert kwargs["e_lr_ratio"] == 0.5 and kwargs["batch_norm"] is True

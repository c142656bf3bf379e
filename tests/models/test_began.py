"""BEGAN: gradient isolation, learning, replicas, round trips, bad data."""

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.models import BEGAN

SMALL = checks.SMALL


_images = checks.images


def _sgd_model(lr, **kwargs):
    model = BEGAN(**{**SMALL, **kwargs})
    model.compile(d_optimizer=keras.optimizers.SGD(lr), g_optimizer=keras.optimizers.SGD(lr))
    return model


def _adam_model(**kwargs):
    model = BEGAN(**{**SMALL, **kwargs})
    model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return model


def _values(variables):
    return [np.array(v) for v in variables]


# ----------------------------------------------------------------- gradient isolation
def test_each_optimizer_gets_only_its_own_loss_gradient():
    keras.utils.set_random_seed(1)
    lr, k0, gamma, lambda_k = 0.5, 0.3, 0.5, 0.01
    model = _sgd_model(lr, k_init=k0, gamma=gamma, lambda_k=lambda_k, seed=11)
    x = tf.constant(_images(4, seed=1))
    d_vars = model.discriminator.trainable_variables
    g_vars = model.generator.trainable_variables
    d_before, g_before = _values(d_vars), _values(g_vars)

    # Independent forward / backward: the first step's z is keyed by (seed, step 0)
    # and drawn for the global batch (BEGAN._global_z; one replica here).
    z = model.sample_z(4, model.seed, 0)
    with tf.GradientTape(persistent=True) as tape:
        fake = model.generator(z, training=True)
        loss_real = tf.reduce_mean(tf.abs(x - model.discriminator(x, training=True)))
        loss_fake = tf.reduce_mean(tf.abs(fake - model.discriminator(fake, training=True)))
        d_loss = loss_real - k0 * loss_fake
    grad_d = tape.gradient(d_loss, d_vars)
    grad_g = tape.gradient(loss_fake, g_vars)
    # What the well-known bugs would apply instead; the test must tell them apart.
    grad_d_from_g_loss = tape.gradient(loss_fake, d_vars)   # joint backward
    grad_d_without_k = tape.gradient(loss_real, d_vars)     # k term ignored
    del tape

    def norm(grads):
        return float(tf.linalg.global_norm(grads))

    assert norm(grad_d_from_g_loss) > 0.05 * norm(grad_d)
    diff_k = [a - b for a, b in zip(grad_d, grad_d_without_k, strict=True)]
    assert norm(diff_k) > 0.05 * norm(grad_d)

    history = model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0).history

    for before, var, grad in zip(d_before, d_vars, grad_d, strict=True):
        np.testing.assert_allclose(np.array(var) - before, -lr * np.array(grad),
                                   rtol=2e-3, atol=1e-6, err_msg=var.path)
    for before, var, grad in zip(g_before, g_vars, grad_g, strict=True):
        np.testing.assert_allclose(np.array(var) - before, -lr * np.array(grad),
                                   rtol=2e-3, atol=1e-6, err_msg=var.path)

    lr_, lf = float(loss_real), float(loss_fake)
    np.testing.assert_allclose(history["loss_real"][0], lr_, rtol=1e-5)
    np.testing.assert_allclose(history["loss_fake"][0], lf, rtol=1e-5)
    np.testing.assert_allclose(history["d_loss"][0], lr_ - k0 * lf, rtol=1e-5)
    np.testing.assert_allclose(history["g_loss"][0], lf, rtol=1e-5)
    np.testing.assert_allclose(history["m_global"][0], lr_ + abs(gamma * lr_ - lf),
                               rtol=1e-5)
    k1 = min(max(k0 + lambda_k * (gamma * lr_ - lf), 0.0), 1.0)
    np.testing.assert_allclose(float(model.k), k1, rtol=1e-6)
    np.testing.assert_allclose(history["k"][0], k1, rtol=1e-6)
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 1


def test_second_step_uses_the_next_z():
    # Step t draws z from (seed, t): after one step, step 1's losses match z(seed, 1).
    model = _sgd_model(0.1, k_init=0.1, seed=5)
    x = tf.constant(_images(4, seed=2))
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    z1 = model.sample_z(4, model.seed, 1)
    fake = model.generator(z1)
    expected = float(tf.reduce_mean(tf.abs(fake - model.discriminator(fake))))
    history = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    np.testing.assert_allclose(history["loss_fake"][0], expected, rtol=1e-5)


# ----------------------------------------------------------------- learning
def test_reconstruction_loss_falls_on_a_fixed_batch():
    keras.utils.set_random_seed(0)  # fixed initial weights
    model = _adam_model(filters=8, seed=0)
    x = tf.constant(_images(4, seed=3) * 0.5)
    ds = tf.data.Dataset.from_tensors(x).repeat()
    history = model.fit(ds, steps_per_epoch=10, epochs=4, verbose=0).history
    after = float(tf.reduce_mean(tf.abs(x - model.discriminator(x))))
    first = history["loss_real"][0]
    last = history["loss_real"][-1]
    # Seen: 0.225, 0.154, 0.089, 0.048 (means over steps 1-10, ..., 31-40).
    assert last < 0.5 * first, history["loss_real"]
    assert after < 0.5 * first
    assert history["loss_real"] == sorted(history["loss_real"], reverse=True)


# ----------------------------------------------------------------- distribution
def test_two_replicas_equal_one(two_replica_strategy):
    kwargs = dict(k_init=0.2, lambda_k=0.05, gamma=0.7, seed=3)
    single = _adam_model(**kwargs)
    with two_replica_strategy.scope():
        mirrored = BEGAN(**SMALL, **kwargs)
        mirrored.set_weights(single.get_weights())
        mirrored.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                         g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    assert mirrored.distribute_strategy.num_replicas_in_sync == 2
    x = _images(8, seed=4)
    h1 = single.fit(x, batch_size=4, epochs=3, shuffle=False, verbose=0).history
    h2 = mirrored.fit(x, batch_size=4, epochs=3, shuffle=False, verbose=0).history
    assert set(h1) == set(h2) == set(single.metric_names())
    for name in h1:
        np.testing.assert_allclose(h2[name], h1[name], rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    np.testing.assert_allclose(mirrored.k.numpy(), single.k.numpy(), rtol=1e-6)
    assert float(single.k) != pytest.approx(0.2, abs=1e-5)  # k moved
    # Both replicas hold the same k.
    k_values = [float(v) for v in mirrored.k.value.values]
    assert k_values[0] == k_values[1]
    for a, b in zip(single.get_weights(), mirrored.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=2e-6)
    assert mirrored.d_optimizer.iterations.numpy() == 6


def test_xla_step_runs_and_matches_graph_mode_where_z_does_not_enter():
    # compile(jit_compile="auto") turns XLA on where a GPU is present. Inside XLA a
    # stateless draw keyed by a run-time counter comes from XLA's own Philox stream
    # (see tfbegan/models/priors.py), so only z-independent numbers can match graph mode.
    graph = _sgd_model(0.5, k_init=0.3, lambda_k=0.05, seed=2)
    xla = BEGAN(**SMALL, k_init=0.3, lambda_k=0.05, seed=2)
    xla.set_weights(graph.get_weights())
    xla.compile(d_optimizer=keras.optimizers.SGD(0.5), g_optimizer=keras.optimizers.SGD(0.5),
                jit_compile=True)
    assert xla.jit_compile and not graph.jit_compile
    # A constant (seed, counter), as generate(num, seed=) uses, gives the same z.
    z_xla = tf.function(lambda: xla.sample_z(4, 2, 0), jit_compile=True)()
    np.testing.assert_array_equal(z_xla, xla.sample_z(4, 2, 0))
    x = _images(4, seed=8)
    h1 = graph.fit(x, batch_size=4, epochs=1, verbose=0).history
    h2 = xla.fit(x, batch_size=4, epochs=1, verbose=0).history
    np.testing.assert_allclose(h2["loss_real"], h1["loss_real"], rtol=1e-5)
    assert all(np.isfinite(v[0]) for v in h2.values())
    assert 0.0 <= h2["k"][0] <= 1.0 and h2["k"][0] != 0.3
    assert int(xla.d_optimizer.iterations) == int(xla.g_optimizer.iterations) == 1


# ----------------------------------------------------------------- round trips
def test_keras_round_trip_restores_weights_k_and_optimizers(tmp_path):
    model = _adam_model(k_init=0.2, lambda_k=0.05, seed=9, gamma=0.6, eta=2)
    x = _images(8, seed=5)
    model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "began.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BEGAN
    assert loaded.get_config() == model.get_config()
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(loaded.k) == float(model.k) != pytest.approx(0.2)
    for name in ("d_optimizer", "g_optimizer"):
        src, dst = getattr(model, name), getattr(loaded, name)
        assert isinstance(dst, keras.optimizers.Adam)
        assert int(dst.iterations) == int(src.iterations) == 2
        assert float(dst.learning_rate) == pytest.approx(1e-3)
        assert dst.beta_1 == 0.5
        assert len(dst.variables) == len(src.variables) > 2
        for a, b in zip(src.variables, dst.variables, strict=True):
            np.testing.assert_array_equal(np.array(a), np.array(b), err_msg=a.path)
    assert any(np.abs(np.array(v)).max() > 0 for v in loaded.d_optimizer.variables[2:])
    # Training continues identically (same z sequence, same Adam state).
    h1 = model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    h2 = loaded.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    for name in h1:
        np.testing.assert_allclose(h2[name], h1[name], rtol=1e-6, err_msg=name)


def test_config_round_trip():
    model = BEGAN(image_size=16, channels=3, filters=4, repeats=1, z_dim=3,
                          h_dim=5, gamma=0.7, lambda_k=0.002, eta=2, k_init=0.1, seed=42,
                          name="my_began")
    config = model.get_config()
    for key, value in dict(image_size=16, channels=3, filters=4, repeats=1, z_dim=3,
                           h_dim=5, gamma=0.7, lambda_k=0.002, eta=2, k_init=0.1,
                           seed=42, name="my_began").items():
        assert config[key] == value, key
    clone = BEGAN.from_config(config)
    assert clone.get_config() == config
    assert clone.generator.count_params() == model.generator.count_params()
    assert clone.discriminator.count_params() == model.discriminator.count_params()
    assert float(clone.k) == pytest.approx(0.1)
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model))
    assert type(revived) is BEGAN and revived.get_config() == config


# ----------------------------------------------------------------- bad data
@pytest.mark.parametrize("data", [
    _images(4, channels=3),            # wrong channel count
    _images(4, size=16),               # image_size does not match the data
    _images(4)[..., 0],                # rank 3
    (_images(4) * 127).astype("uint8"),  # integer images
    (_images(4) * 127).astype("int32"),
])
def test_fit_rejects_wrong_data(data):
    model = _sgd_model(0.1)
    with pytest.raises(ValueError, match=r"\[batch, 8, 8, 1\]"):
        model.fit(data, batch_size=4, epochs=1, verbose=0)


def test_wrong_shape_after_a_good_fit_names_the_expected_shape():
    # A second fit() retraces with relaxed shapes; the check must still fire.
    model = _sgd_model(0.1)
    model.fit(_images(4), batch_size=4, epochs=1, verbose=0)
    with pytest.raises(Exception, match=r"\[\?,8,8,1\]|\[batch, 8, 8, 1\]"):
        model.fit(_images(4, channels=3), batch_size=4, epochs=1, verbose=0)


def test_dict_input_and_missing_key():
    model = _sgd_model(0.1)
    model.fit({"image": _images(4)}, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="image"):
        model.fit({"pixels": _images(4)}, batch_size=4, epochs=1, verbose=0)


def test_fit_before_compile_and_shared_optimizer():
    model = BEGAN(**SMALL)
    with pytest.raises(Exception, match="compile"):
        model.fit(_images(4), batch_size=4, epochs=1, verbose=0)
    opt = keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="different"):
        model.compile(d_optimizer=opt, g_optimizer=opt)


# ----------------------------------------------------------------- inference API
def test_generate_reconstruct_and_evaluate():
    model = _sgd_model(0.1, k_init=0.25, seed=1)
    a, b = model.generate(3, seed=7), model.generate(3, seed=7)
    assert a.shape == (3, 8, 8, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, model.generate(3, seed=8))
    z = model.sample_z(3, 7)
    assert float(tf.reduce_min(z)) >= -1 and float(tf.reduce_max(z)) <= 1
    np.testing.assert_allclose(model.generate(z), a, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[num, 4\]"):
        model.generate(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="num=0"):
        model.generate(0)
    x = _images(4, seed=6)
    assert model.reconstruct(x).shape == x.shape

    # test_step: no updates, same losses as an inference-mode forward pass.
    weights = model.get_weights()
    result = model.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    expected = float(tf.reduce_mean(tf.abs(x - model.reconstruct(x))))
    np.testing.assert_allclose(result["loss_real"], expected, rtol=1e-5)
    assert result["k"] == pytest.approx(0.25)
    assert int(model.d_optimizer.iterations) == 0
    for w0, w1 in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)


# --------------------------------------------------------------- two learning rates
def test_d_lr_ratio_scales_only_the_discriminators_step():
    """``make_optimizers(lr, beta1, d_lr_ratio)``: D's Adam rate is ``ratio * lr``.
    Adam's first update is ``rate * g / (|g| + eps)``, so from the same start D moves
    exactly half as far with ratio 0.5 and G exactly as far."""
    x = tf.constant(_images(4, seed=3))
    moves = {}
    for ratio in (1.0, 0.5):
        keras.utils.set_random_seed(5)
        model = BEGAN(**SMALL, seed=5)
        opts = model.make_optimizers(1e-3, 0.5, d_lr_ratio=ratio)
        assert float(opts["d_optimizer"].learning_rate) == pytest.approx(1e-3 * ratio)
        assert float(opts["g_optimizer"].learning_rate) == pytest.approx(1e-3)
        model.compile(**opts)
        d_vars = model.discriminator.trainable_variables
        g_vars = model.generator.trainable_variables
        d0, g0 = _values(d_vars), _values(g_vars)
        model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0)
        moves[ratio] = ([np.array(v) - b for v, b in zip(d_vars, d0, strict=True)],
                        [np.array(v) - b for v, b in zip(g_vars, g0, strict=True)])
    for full, half in zip(moves[1.0][0], moves[0.5][0], strict=True):
        np.testing.assert_allclose(half, 0.5 * full, rtol=1e-4, atol=1e-9)
    assert max(float(np.abs(d).max()) for d in moves[1.0][0]) > 5e-4
    for full, same in zip(moves[1.0][1], moves[0.5][1], strict=True):
        np.testing.assert_allclose(same, full, rtol=1e-4, atol=1e-9)


def test_d_lr_ratio_for_every_model_family():
    from tfbegan.models import AGE, VAEBEGAN, BiGAN
    from tfbegan.models.base import discriminator_learning_rate

    assert discriminator_learning_rate(2e-4, 0.5) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match=r"d_lr_ratio=0.0 is out of range; allowed: \(0.0"):
        discriminator_learning_rate(2e-4, 0.0)
    vae = VAEBEGAN(**SMALL).make_optimizers(1e-3, 0.5, d_lr_ratio=0.25)
    assert [float(vae[n].learning_rate) for n in ("d_optimizer", "g_optimizer",
                                                  "e_optimizer")] == pytest.approx(
        [2.5e-4, 1e-3, 1e-3])
    bigan = BiGAN(image_size=8, channels=1, filters=4, repeats=2, z_dim=4).make_optimizers(
        1e-3, 0.5, d_lr_ratio=2.0)
    assert float(bigan["d_optimizer"].learning_rate) == pytest.approx(2e-3)
    assert float(bigan["g_optimizer"].learning_rate) == pytest.approx(1e-3)
    age = AGE(image_size=8, channels=1, filters=4, repeats=2, z_dim=4)
    assert set(age.make_optimizers(1e-3, 0.5)) == {"e_optimizer", "g_optimizer"}
    with pytest.raises(ValueError, match="AGE has no discriminator"):
        age.make_optimizers(1e-3, 0.5, d_lr_ratio=0.5)

"""Denoising BEGAN (Li et al. 2018): Eq. 6, batch norm, skip connections, historical averaging."""

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.losses.terms import denoising_loss, historical_averaging_penalty
from tfbegan.models import BEGAN, MODELS, DenoisingBEGAN
from tfbegan.models.config import ModelConfig
from tfbegan.networks import began

TINY = dict(image_size=16, channels=1, filters=2, repeats=2, z_dim=3, h_dim=3, seed=5)


def _images(n=4, size=16, seed=0):
    return checks.images(n, seed, size=size)


def _model(strategy=None, init_seed=1, lr=1e-3, **kwargs):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(init_seed)
        model = DenoisingBEGAN(**{**TINY, **kwargs})
        model.compile(**model.make_optimizers(lr, 0.5))
    return model


def _numpy_weights(model):
    """Weights by path, the wrapper's own (k, HA averages) without its unique name."""
    prefix = model.name + "/"
    return {v.path[len(prefix):] if v.path.startswith(prefix) else v.path: np.array(v)
            for v in model.weights}


# ---------------------------------------------------------------- Eq. 6 term
def test_denoising_loss_hand_computation():
    x = np.array([[[[0.5], [-1.0]]]], np.float32)          # 1 x 1 x 2 x 1
    recon = np.array([[[[1.0], [0.0]]]], np.float32)
    # ((1 - 0.5)^2 + (0 + 1)^2) / 2
    assert float(denoising_loss(x, recon)) == pytest.approx(0.625)


def test_denoising_term_with_fixed_noise_and_constant_discriminator():
    model = DenoisingBEGAN(**TINY, batch_norm=False)
    # D with all kernels zero outputs its final bias b for any input: D(x + n) = b.
    for v in model.discriminator.trainable_variables:
        v.assign(np.zeros(v.shape, np.float32))
    model.discriminator.get_layer("decoder").get_layer("decoder_out").bias.assign([0.25])
    x = _images(2)
    noise = np.full(x.shape, 3.0, np.float32)
    expected = np.mean((0.25 - x) ** 2)
    out = model.compute_losses(x, tf.zeros([2, 3]), noise, 0.0, training=False)
    assert float(out["values"]["loss_denoise"]) == pytest.approx(expected, rel=1e-6)


def test_noise_uses_the_fixed_philox_algorithm_of_the_priors():
    # With the default "auto_select" the device picks the algorithm (and XLA draws
    # other numbers than graph mode for a constant key); z fixes Philox, so must n.
    model = DenoisingBEGAN(**TINY)
    graph = tf.function(model.sample_noise).get_concrete_function(
        4, tf.TensorSpec([], tf.int64)).graph
    normals = [op for op in graph.get_operations() if op.type == "StatelessRandomNormalV2"]
    assert len(normals) == 1
    alg = normals[0].inputs[3].op
    assert alg.type == "Const"
    assert int(tf.get_static_value(alg.outputs[0])) == 1  # RNG_ALG_PHILOX
    # The graph-mode stream is unchanged by the fix (auto_select is Philox on CPU).
    key = tf.random.experimental.stateless_fold_in(tf.constant([5, 2], tf.int64),
                                                   0x6E6F6973)
    want = tf.random.stateless_normal([4, 16, 16, 1], seed=key)
    np.testing.assert_array_equal(model.sample_noise(4, 2), model.noise_std * want)


def test_train_step_reports_eq6_with_the_step_noise():
    model = _model(batch_norm=False, skip_connections=True, lambda_noise=2.0,
                   noise_std=0.7)
    x = _images(4)
    # Before the step: D_0 and the noise of step 0, recomputed from its public key.
    noise = model.sample_noise(4, 0).numpy()
    assert noise.std() == pytest.approx(0.7, rel=0.1)
    recon = model.discriminator(x + noise).numpy()
    expected_denoise = np.mean((recon - x) ** 2)
    real = np.mean(np.abs(model.discriminator(x).numpy() - x))
    logs = model.train_on_batch(x, return_dict=True)
    assert logs["loss_denoise"] == pytest.approx(expected_denoise, rel=1e-5)
    assert logs["loss_real"] == pytest.approx(real, rel=1e-5)
    # k_0 = 0: L_D = L(x) + lambda_noise * L_DAE.
    assert logs["d_loss"] == pytest.approx(real + 2.0 * expected_denoise, rel=1e-5)
    assert logs["g_loss"] == pytest.approx(logs["loss_fake"], rel=1e-6)
    # The noise stream is not the z stream (same (seed, step) key otherwise).
    assert not np.allclose(model.sample_noise(4, 0).numpy()[:, 0, 0, 0] / 0.7,
                           tf.random.stateless_normal([4], [5, 0]).numpy())


# ---------------------------------------------------------------- batch norm
def _producer(layer):
    return layer.input._keras_history.operation


@pytest.mark.parametrize("repeats", [2, 3])
def test_batch_norm_sits_after_each_blocks_last_conv(repeats):
    config = ModelConfig(image_size=32, channels=3, filters=2, repeats=repeats, z_dim=3,
                         h_dim=3, batch_norm=True, skip_connections=True)
    for net, name in ((began.build_encoder(config), "encoder"),
                      (began.build_decoder(config), "decoder"),
                      (began.build_generator(config), "generator")):
        bns = [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
        # One per block (3 scales at 32 px), each fed by the block's last conv.
        assert [_producer(bn).name for bn in bns] == [
            f"{name}_s{i}_conv{repeats - 1}" for i in range(3)]
        for bn in bns:
            conv = _producer(bn)
            assert conv.activation is keras.activations.linear and not conv.use_bias
            assert bn.synchronized
            consumers = [layer for layer in net.layers
                         if layer is not bn and layer._inbound_nodes
                         and any(_producer_of(t) is bn
                                 for t in layer._inbound_nodes[0].input_tensors)]
            assert [type(c).__name__ for c in consumers] == ["Activation"]
            assert consumers[0].activation is keras.activations.elu
        # The other convs keep conv + ELU.
        convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)
                 and layer.name not in {_producer(bn).name for bn in bns}
                 and not layer.name.endswith("_out")]
        assert convs and all(c.activation is keras.activations.elu for c in convs)
    plain = began.build_generator(config.replace(batch_norm=False))
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)


def _producer_of(tensor):
    return tensor._keras_history.operation


# ---------------------------------------------------------------- skips
@pytest.mark.parametrize("size", [16, 32, 64])
def test_skip_connection_shapes_and_values_at_every_scale(size):
    n = 2
    config = ModelConfig(image_size=size, channels=3, filters=n, z_dim=3, h_dim=3,
                         skip_connections=True)
    scales = config.num_scales
    for net, name in ((began.build_decoder(config), "decoder"),
                      (began.build_generator(config), "generator")):
        skips = [net.get_layer(f"{name}_skip{i}") for i in range(1, scales)]
        h0 = net.get_layer(f"{name}_reshape").output
        probe = keras.Model(net.input, [h0] + [s.output for s in skips])
        outs = probe(np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32))
        h0_val = outs[0].numpy()
        assert h0_val.shape == (2, 8, 8, n)
        for i, skip in enumerate(outs[1:], start=1):
            side = 8 * 2 ** i
            assert tuple(skip.shape) == (2, side, side, 2 * n)
            up = np.repeat(np.repeat(h0_val, 2 ** i, axis=1), 2 ** i, axis=2)
            np.testing.assert_array_equal(skip.numpy()[..., n:], up)
        # No skip at the 8x8 scale (nothing is up-sampled there), none past the last.
        names = {layer.name for layer in net.layers}
        assert f"{name}_skip0" not in names and f"{name}_skip{scales}" not in names
        assert net.output.shape[1:] == (size, size, 3)


# ---------------------------------------------------------------- HA
def test_historical_averaging_hand_computation_over_three_steps():
    model = DenoisingBEGAN(**TINY, ha_weight=0.5)
    g_params = sum(int(np.prod(v.shape)) for v in model.generator.trainable_variables)
    d_params = sum(int(np.prod(v.shape)) for v in model.discriminator.trainable_variables)
    # theta_G = c_t everywhere, theta_D = -2 c_t everywhere, for c = 1, 3, 8.
    # Cumulative means: 1, (1+3)/2 = 2, (1+3+8)/3 = 4; penalties
    # P * (c - mean)^2 = 0, P * 1, P * 16 (times 4 for D).
    for c, mean, sq in ((1.0, 1.0, 0.0), (3.0, 2.0, 1.0), (8.0, 4.0, 16.0)):
        for v in model.generator.trainable_variables:
            v.assign(np.full(v.shape, c, np.float32))
        for v in model.discriminator.trainable_variables:
            v.assign(np.full(v.shape, -2 * c, np.float32))
        model.update_historical_averages()
        ha_d, ha_g = model.historical_penalties()
        assert float(ha_g) == pytest.approx(g_params * sq)
        assert float(ha_d) == pytest.approx(d_params * 4 * sq)
        assert all(np.allclose(np.array(a), mean) for a in model.ha_avg_g)
        assert all(np.allclose(np.array(a), -2 * mean) for a in model.ha_avg_d)
    assert float(model.ha_count) == 3.0
    # The pure penalty: ||(1, 2) - (0, 0)||^2 + ||3 - 1||^2 = 5 + 4.
    assert float(historical_averaging_penalty(
        [tf.constant([1.0, 2.0]), tf.constant(3.0)],
        [tf.constant([0.0, 0.0]), tf.constant(1.0)])) == pytest.approx(9.0)


def test_historical_averaging_in_train_step_three_steps():
    model = _model(batch_norm=False, lambda_noise=0.0, ha_weight=0.25)
    x = _images(4)
    thetas = []
    for step in range(3):
        thetas.append([np.array(v) for v in model.generator.trainable_variables])
        model.reset_metrics()
        logs = model.train_on_batch(x, return_dict=True)
        mean = [np.mean(t, axis=0) for t in zip(*thetas, strict=True)]
        expected = sum(np.sum((t - m) ** 2) for t, m in zip(thetas[-1], mean, strict=True))
        assert logs["ha_g"] == pytest.approx(expected, rel=1e-4, abs=1e-12)
        assert logs["g_loss"] == pytest.approx(logs["loss_fake"] + 0.25 * expected,
                                               rel=1e-5)
        if step == 0:
            assert expected == 0.0
    assert expected > 0
    for a, m in zip(model.ha_avg_g, mean, strict=True):
        np.testing.assert_allclose(np.array(a), m, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- replicas
def test_two_replicas_equal_one_device_with_batch_norm(two_replica_strategy):
    kwargs = dict(batch_norm=True, skip_connections=True, lambda_noise=2.0,
                  ha_weight=0.1)
    x = _images(8)
    results = []
    for strategy in (tf.distribute.get_strategy(), two_replica_strategy):
        model = _model(strategy, **kwargs)
        ds = tf.data.Dataset.from_tensor_slices(x).batch(4, drop_remainder=True)
        history = model.fit(ds, epochs=1, verbose=0, shuffle=False).history
        results.append((model, history))
    (m1, h1), (m2, h2) = results
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=2e-5, atol=1e-6, err_msg=key)
    w1, w2 = _numpy_weights(m1), _numpy_weights(m2)
    assert w1.keys() == w2.keys()
    moving = [p for p in w1 if "moving_" in p]
    assert len(moving) == 2 * 2 * 3  # mean + variance, 2 blocks, E / D / G
    for path in w1:
        np.testing.assert_allclose(w1[path], w2[path], rtol=1e-4, atol=2e-6,
                                   err_msg=path)
    # Moving statistics moved away from their initial (0, 1) and every replica's
    # copy holds the same value.
    bn = m2.generator.get_layer("generator_s1_conv1_bn")
    assert np.abs(np.array(bn.moving_variance) - 1).max() > 1e-4
    copies = [np.array(c) for c in bn.moving_mean.value.values]
    assert len(copies) == 2
    np.testing.assert_array_equal(copies[0], copies[1])


# ---------------------------------------------------------------- isolation
def test_discriminator_extra_terms_never_reach_the_generator():
    model = _model(batch_norm=False, ha_weight=1.0)
    x = tf.constant(_images(4))
    model.update_historical_averages()
    for v in model.discriminator.trainable_variables:  # make the HA term non-zero
        v.assign_add(0.01 * tf.ones_like(v))
    z, noise = model.sample_z(4, seed=1), model.sample_noise(4, 0)
    with tf.GradientTape(persistent=True) as tape:
        out = model.compute_losses(x, z, noise, 0.5, training=True)
        # L_D's terms beside L(x) and -k L(G(z)): lambda_noise L_DAE + HA_D.
        extra = out["d_real"] - out["values"]["loss_real"]
    assert float(extra) > 0
    g_grads = tape.gradient(extra, model.generator.trainable_variables)
    d_grads = tape.gradient(extra, model.discriminator.trainable_variables)
    assert all(g is None for g in g_grads)
    assert any(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in d_grads)

    # One training step: G's update is the same with and without Eq. 6's term.
    x = _images(4, seed=3)
    updated = []
    for lambda_noise in (0.0, 2.0):
        m = _model(batch_norm=False, lambda_noise=lambda_noise)
        m.train_on_batch(x)
        updated.append(m)
    for a, b in zip(updated[0].generator.weights, updated[1].generator.weights, strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(np.array(a), np.array(b)) for a, b in
               zip(updated[0].discriminator.weights, updated[1].discriminator.weights, strict=True))


# ---------------------------------------------------------------- export, config
@pytest.fixture(scope="module")
def trained():
    model = _model(batch_norm=True, skip_connections=True, ha_weight=0.1)
    for seed in range(2):
        model.train_on_batch(_images(4, seed=seed))
    return model


def test_inference_mode_is_per_sample_and_export_matches(trained, tmp_path):
    z = trained.sample_z(4, seed=2)
    full = trained.generate(z).numpy()
    # Inference mode: each sample independent of the rest of the batch.
    np.testing.assert_allclose(trained.generate(z[:1]).numpy(), full[:1], atol=1e-6)
    np.testing.assert_allclose(trained.generate(tf.reverse(z, [0])).numpy(),
                               full[::-1], atol=1e-6)
    np.testing.assert_array_equal(trained.generate(z).numpy(), full)
    from tfbegan.serving import export as export_lib
    loaded = tf.saved_model.load(export_lib.export_generator(trained, str(tmp_path)))
    got = loaded.signatures["serving_default"](z=z)["images_float"].numpy()
    np.testing.assert_allclose(got, np.clip(full, -1, 1), atol=1e-5)
    # Batch statistics would give other images (last: a training=True call also
    # moves the moving statistics).
    assert np.abs(trained.generator(z, training=True).numpy() - full).max() > 1e-3


def test_evaluate_reports_the_same_losses_in_inference_mode(trained):
    x = _images(4, seed=7)
    before = _numpy_weights(trained)
    logs = trained.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    assert set(logs) == set(trained.metric_names())
    k = float(trained.k)
    assert logs["d_loss"] == pytest.approx(
        logs["loss_real"] - k * logs["loss_fake"] + 2.0 * logs["loss_denoise"]
        + 0.1 * logs["ha_d"], rel=1e-5)
    assert logs["g_loss"] == pytest.approx(logs["loss_fake"] + 0.1 * logs["ha_g"],
                                           rel=1e-5)
    noise = trained.sample_noise(4, -1)
    recon = trained.discriminator(x + noise, training=False)
    assert logs["loss_denoise"] == pytest.approx(float(denoising_loss(x, recon)), rel=1e-5)
    after = _numpy_weights(trained)  # inference mode moves no statistics
    assert all(np.array_equal(before[p], after[p]) for p in before)


def test_keras_round_trip_restores_averages_and_moving_statistics(trained, tmp_path):
    path = str(tmp_path / "m.keras")
    trained.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, DenoisingBEGAN)
    assert restored.get_config() == trained.get_config()
    for key in ("lambda_noise", "noise_std", "ha_weight", "batch_norm",
                "skip_connections"):
        assert restored.get_config()[key] == trained.get_config()[key]
    w1, w2 = _numpy_weights(trained), _numpy_weights(restored)
    assert w1.keys() == w2.keys()
    assert any("ha_avg_g" in p for p in w1) and any("moving_mean" in p for p in w1)
    for p in w1:
        np.testing.assert_array_equal(w1[p], w2[p], err_msg=p)
    assert float(restored.ha_count) == 2.0
    assert int(restored.d_optimizer.iterations) == 2
    z = trained.sample_z(3, seed=0)
    np.testing.assert_array_equal(restored.generate(z).numpy(), trained.generate(z).numpy())


def test_registry_config_validation_and_plain_began_options():
    assert MODELS["denoising_began"] is DenoisingBEGAN is DenoisingBEGAN
    m = DenoisingBEGAN(**TINY)  # defaults: the paper's 'Ours' (BN + SC + DE, gamma 1)
    assert (m.lambda_noise, m.noise_std, m.ha_weight, m.gamma) == (2.0, 1.0, 0.0, 1.0)
    assert m.batch_norm and m.skip_connections and m.ha_avg_d == []
    assert "loss_denoise" in m.metric_names() and "ha_d" not in m.metric_names()
    for kwargs, name in ((dict(lambda_noise=-1.0), "lambda_noise"),
                         (dict(noise_std=-0.1), "noise_std"),
                         (dict(ha_weight=float("nan")), "ha_weight"),
                         (dict(batch_norm=1), "batch_norm")):
        with pytest.raises(ValueError, match=name):
            DenoisingBEGAN(**TINY, **kwargs)
    with pytest.raises(ValueError, match="skip_connections"):
        ModelConfig(skip_connections="yes")
    began = BEGAN(**TINY, batch_norm=True, skip_connections=True)
    assert began.generator.get_layer("generator_skip1").output.shape[-1] == 4
    assert began.get_config()["batch_norm"] is True
    assert BEGAN.from_config(began.get_config()).skip_connections is True


def test_flag_module_and_flagfiles():
    import glob
    import os

    from absl import flags

    from tfbegan.cli import flags_denoising, train
    from tfbegan.cli.variants import VARIANTS
    assert VARIANTS["denoising_began"] == "tfbegan.cli.flags_denoising"
    fv = flags.FLAGS
    if "model" not in fv:
        train.define_flags()  # every family's flags, ours among them
    assert "denoise_lambda" in fv and "denoise_ha_weight" in fv
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    files = sorted(glob.glob(os.path.join(root, "flags", "denoise_*.flags")))
    assert len(files) == 7
    rows = {}
    for path in files:
        fv.unparse_flags()
        fv(["prog", f"--flagfile={path}"])
        kwargs = flags_denoising.model_kwargs(fv)
        rows[os.path.basename(path)[len("denoise_"):-len(".flags")]] = kwargs
        assert fv.model == "denoising_began" and fv.beta1 == 0.5
        assert fv.learning_rate == 1e-4 and fv.lr_decay_factor == 0.5
        DenoisingBEGAN(**{**TINY, **kwargs})  # every row builds
    fv.unparse_flags()
    pick = lambda r: (r["batch_norm"], r["skip_connections"], r["lambda_noise"],  # noqa
                      r["ha_weight"] > 0, r["gamma"])
    assert pick(rows["cifar10_baseline"]) == (False, True, 0.0, False, 1.0)
    assert pick(rows["cifar10_bn"]) == (True, True, 0.0, False, 1.0)
    assert pick(rows["cifar10_no_sc_de"]) == (True, False, 2.0, False, 1.0)
    assert pick(rows["cifar10_ours"]) == (True, True, 2.0, False, 1.0)
    assert pick(rows["cifar10_ha"]) == (True, True, 2.0, True, 1.0)
    assert pick(rows["cifar10_gamma07"]) == (True, True, 2.0, False, 0.7)
    assert pick(rows["celeba_64"]) == (True, True, 2.0, False, 1.0)


# ---------------------------------------------------------------------- bn_statistics
@pytest.mark.parametrize("statistics, real_depends_on_fakes", [
    ("joint", True), ("separate", False)])
def test_bn_statistics_joint_or_separate(statistics, real_depends_on_fakes):
    # "joint": one set of batch statistics over [x, x + n, G(z)], so L(x) changes with
    # the generated images; "separate": real and generated images are normalized on
    # their own and L(x), L_DAE are those of D on [x, x + n] alone.
    keras.utils.set_random_seed(2)
    model = DenoisingBEGAN(**TINY, batch_norm=True, skip_connections=True,
                           bn_statistics=statistics)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)), tf.float32)
    noise = model.sample_noise(4, 0)
    a = model.compute_losses(x, model.sample_z(4, seed=1), noise, 0.0, training=True)["values"]
    b = model.compute_losses(x, model.sample_z(4, seed=2), noise, 0.0, training=True)["values"]
    changed = not np.isclose(float(a["loss_real"]), float(b["loss_real"]), rtol=1e-6)
    assert changed == real_depends_on_fakes
    if statistics == "separate":
        alone = model.discriminator(tf.concat([x, x + noise], 0), training=True)
        assert float(a["loss_real"]) == pytest.approx(
            float(tf.reduce_mean(model.distance(x, alone[:4]))), rel=1e-5)
        assert model.get_config()["bn_statistics"] == "separate"
        assert DenoisingBEGAN.from_config(model.get_config()).bn_statistics == "separate"
    else:
        assert model.get_config()["bn_statistics"] == "joint"
    with pytest.raises(ValueError, match="bn_statistics"):
        DenoisingBEGAN(**TINY, bn_statistics="shared")


def test_bn_statistics_separate_trains(tmp_path):
    keras.utils.set_random_seed(3)
    model = DenoisingBEGAN(**TINY, batch_norm=True, bn_statistics="separate")
    model.compile(**model.make_optimizers(1e-3, 0.5))
    x = np.random.default_rng(1).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"][-1]) and np.isfinite(logs["g_loss"][-1])
    path = str(tmp_path / "sep.keras")
    model.save(path)
    assert keras.saving.load_model(path).bn_statistics == "separate"

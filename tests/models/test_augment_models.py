"""DiffAugment in the models with an auto-encoder D (BEGAN, denoising BEGAN,
VAE+BEGAN): one step against a two-tape computation through T, k from the augmented
losses, evaluation unaugmented, config round trips, bad policies. Two replicas
against one: tests/models/test_single_backward.py (the denoising case)."""

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.models import BEGAN, VAEBEGAN, DenoisingBEGAN
from tfbegan.models import augment as A

SMALL = checks.SMALL
POLICY = "color,translation,cutout"
LR = 0.1


def _sgd(model):
    checks.compile_sgd(model, LR)
    return model


def _l1(a, b):
    return tf.reduce_mean(tf.abs(a - b))


def _moved_by(model, x, grads):
    """One train step moves each network by ``-LR * grads[name]``."""
    nets = {n: getattr(model, net) for n, net in model.optimizer_networks}
    before = {n: [np.array(v) for v in net.trainable_variables] for n, net in nets.items()}
    history = model.fit(x, batch_size=x.shape[0], epochs=1, shuffle=False, verbose=0)
    for name, net in nets.items():
        for old, g, new in zip(before[name], grads[name], net.trainable_variables,
                               strict=True):
            np.testing.assert_allclose(np.array(new) - old, -LR * np.array(g),
                                       rtol=1e-4, atol=1e-6, err_msg=name)
    return history.history


def _two_tape(model, x, k, augment, noise=None, lambda_noise=0.0):
    """L_D and L_G through T, written out, each differentiated on its own."""
    d, g = model.discriminator, model.generator
    z = model.sample_z(x.shape[0], model.seed, 0)
    params = model._augmenter.step_params(x.shape[0], tf.distribute.get_replica_context(),
                                          0) if augment else (None, None)
    with tf.GradientTape(persistent=True) as tape:
        fake = g(z, training=True)
        tx = x if params[0] is None else A.apply(x, A.parse_policy(POLICY), params[0], 8)
        tg = fake if params[1] is None else A.apply(fake, A.parse_policy(POLICY),
                                                    params[1], 8)
        loss_real = _l1(tx, d(tx, training=True))
        loss_fake = _l1(tg, d(tg, training=True))
        d_loss = loss_real - k * loss_fake
        if noise is not None:  # augment, then noise
            d_loss += lambda_noise * tf.reduce_mean(tf.square(d(tx + noise, training=True)
                                                              - tx))
    grads = {"d": tape.gradient(d_loss, d.trainable_variables),
             "g": tape.gradient(loss_fake, g.trainable_variables)}
    return grads, float(loss_real), float(loss_fake)


def _norm(grads):
    return float(tf.linalg.global_norm(grads))


def test_began_step_equals_two_tapes_through_t_and_k_uses_augmented_losses():
    keras.utils.set_random_seed(1)
    k0, gamma, lambda_k = 0.3, 0.5, 0.05
    model = _sgd(BEGAN(**SMALL, k_init=k0, gamma=gamma, lambda_k=lambda_k, seed=5,
                       augment=POLICY))
    x = tf.constant(checks.images(4, seed=1))
    grads, lr_, lf = _two_tape(model, x, k0, augment=True)
    plain, plain_real, plain_fake = _two_tape(model, x, k0, augment=False)
    # The check tells augmented from plain gradients and losses apart.
    diff = [a - b for a, b in zip(grads["g"], plain["g"], strict=True)]
    assert _norm(grads["g"]) > 0 and _norm(diff) > 0.1 * _norm(grads["g"])
    assert abs(lr_ - plain_real) > 1e-3 and abs(lf - plain_fake) > 1e-3
    history = _moved_by(model, x, grads)
    np.testing.assert_allclose(history["loss_real"][0], lr_, rtol=1e-5)
    np.testing.assert_allclose(history["loss_fake"][0], lf, rtol=1e-5)
    np.testing.assert_allclose(history["m_global"][0], lr_ + abs(gamma * lr_ - lf),
                               rtol=1e-5)
    np.testing.assert_allclose(float(model.k), np.clip(k0 + lambda_k * (gamma * lr_ - lf),
                                                       0, 1), rtol=1e-6)


def test_denoising_step_augments_then_adds_noise():
    keras.utils.set_random_seed(3)
    model = _sgd(DenoisingBEGAN(**SMALL, k_init=0.4, seed=7, lambda_noise=2.0,
                                noise_std=0.5, batch_norm=False, augment=POLICY))
    x = tf.constant(checks.images(4, seed=3))
    grads, _, _ = _two_tape(model, x, 0.4, augment=True,
                            noise=model.sample_noise(4, 0), lambda_noise=2.0)
    _moved_by(model, x, grads)


def test_vae_began_d_sees_augmented_images_and_e_the_plain_ones():
    keras.utils.set_random_seed(5)
    model = _sgd(VAEBEGAN(**SMALL, k_init=0.3, seed=9, augment=POLICY))
    x = tf.constant(checks.images(4, seed=5))
    eps, z_g = model.sample_z(4, model.seed, 1), model.sample_z(4, model.seed, 0)
    views = model._augmenter.step_params(4, tf.distribute.get_replica_context(), 0)
    out = model.compute_vae_losses(x, eps, z_g, tf.constant(0.3), training=True,
                                   augment=views)
    plain = model.compute_vae_losses(x, eps, z_g, tf.constant(0.3), training=True)
    policy = A.parse_policy(POLICY)
    tx, tv = (A.apply(v, policy, views[0], 8) for v in (x, out["x_v"]))
    tg = A.apply(out["x_g"], policy, views[1], 8)
    d, d_enc = model.discriminator, model.discriminator_encoder
    for name, seen in (("loss_real", tx), ("loss_v", tv), ("loss_fake", tg)):
        np.testing.assert_allclose(out[name], _l1(seen, d(seen, training=True)),
                                   rtol=1e-5, err_msg=name)
        assert abs(float(out[name]) - float(plain[name])) > 1e-3, name
    # L_s compares the pair under one draw; L_e and L_n never see T.
    np.testing.assert_allclose(out["loss_s"], _l1(d_enc(tx), d_enc(tv)), rtol=1e-5)
    for name in ("recon_l1", "loss_n"):
        np.testing.assert_allclose(out[name], plain[name], rtol=1e-6, err_msg=name)
    # Row order matters (each row has its own draw): no shuffling.
    history = model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss_real"][0], out["loss_real"], rtol=1e-5)


def test_evaluation_is_not_augmented():
    x = checks.images(4, seed=2)
    logs = []
    for augment in ("", POLICY):
        keras.utils.set_random_seed(2)
        model = _sgd(BEGAN(**SMALL, seed=4, augment=augment))
        logs.append(model.evaluate(x, batch_size=4, verbose=0, return_dict=True))
        train = model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0).history
        logs.append({"train_" + k: v[0] for k, v in train.items()})
    (plain, plain_train), (aug, aug_train) = logs[:2], logs[2:]
    for name in ("loss_real", "loss_fake", "m_global"):
        np.testing.assert_allclose(aug[name], plain[name], rtol=1e-6, err_msg=name)
        assert abs(aug_train["train_" + name] - plain_train["train_" + name]) > 1e-3


# ----------------------------------------------------------------- config
@pytest.mark.parametrize("cls", [BEGAN, DenoisingBEGAN, VAEBEGAN])
def test_config_round_trip_and_old_configs_load(cls):
    model = cls(**SMALL, augment="color, cutout")
    config = model.get_config()
    assert config["augment"] == "color,cutout" and model._augmenter.policy == (
        "color", "cutout")
    assert cls.from_config(config).get_config() == config
    old = {k: v for k, v in config.items() if k != "augment"}  # saved before the option
    assert cls.from_config(old).get_config()["augment"] == ""


def test_keras_file_round_trip_resumes_the_same_augmentation(tmp_path):
    keras.utils.set_random_seed(6)
    model = _sgd(BEGAN(**SMALL, seed=2, augment="translation,cutout"))
    x = checks.images(8, seed=6)
    loaded = checks.fit_save_load(model, x, str(tmp_path / "m.keras"))
    assert loaded.augment == "translation,cutout"
    checks.assert_resumes_exactly(model, loaded, x)


@pytest.mark.parametrize("cls", [BEGAN, DenoisingBEGAN, VAEBEGAN])
def test_bad_policy_fails_at_construction_naming_it(cls):
    with pytest.raises(ValueError, match=r"augment='color,flip': 'flip' is not a "
                                         r"DiffAugment policy; allowed: color, "
                                         r"translation, cutout"):
        cls(**SMALL, augment="color,flip")

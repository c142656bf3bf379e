"""DCGAN-style networks of BiGAN and AGE (``architecture="dcgan"``,
``tfbegan.networks.encoders``): sizes, output maps, replicas, round trip, flags."""

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from tfbegan.cli import flags_age, flags_bigan
from tfbegan.models import AGE, BiGAN
from tfbegan.models.config import ModelConfig
from tfbegan.networks import encoders

TINY = {**checks.TINY, "architecture": "dcgan"}


def _bigan(**overrides):
    keras.utils.set_random_seed(11)
    return BiGAN(**{**TINY, "d_units": 8, **overrides})


def _age(**overrides):
    keras.utils.set_random_seed(11)
    return AGE(**{**TINY, **overrides})


# ---------------------------------------------------------------------- sizes
def test_parameter_counts_hand_computed():
    config = ModelConfig(image_size=32, channels=1, filters=8, z_dim=16, h_dim=16,
                         architecture="dcgan")
    # conv0 4*4*1*8 + 8; conv1 4*4*8*16 + 16; the 8x8x16 = 1024 features to
    # Dense(32 n = 256) 1024*256 + 256; Dense(16) 256*16 + 16.
    body = encoders.build_dcgan_vector_encoder(config, 16)
    assert body.count_params() == 136 + 2064 + 262400 + 4112 == 268712
    assert body.output.shape == (None, 16)
    # Batch norm: conv1 and the hidden Dense lose their biases (16 + 256) and gain
    # gamma, beta and the two moving statistics (4 * 16 + 4 * 256).
    bn = encoders.build_dcgan_vector_encoder(config.replace(batch_norm=True), 16)
    assert bn.count_params() == 268712 - 16 - 256 + 4 * 16 + 4 * 256 == 269528
    # D(x, z), 64 units: image stack 2200, image Dense 1024*64 + 64, z Dense
    # 16*64 + 64, joint 128*64 + 64, logit 65.
    d = encoders.build_dcgan_joint_discriminator(config, 64)
    assert d.count_params() == 2200 + 65600 + 1088 + 8256 + 65 == 77209


def test_leaky_relu_slope_and_batch_norm_placement():
    config = ModelConfig(image_size=16, channels=1, filters=4, z_dim=4, h_dim=4,
                         architecture="dcgan", batch_norm=True)
    body = encoders.build_dcgan_vector_encoder(config, 4, name="e")
    slopes = {layer.negative_slope for layer in body.layers
              if isinstance(layer, keras.layers.LeakyReLU)}
    assert slopes == {encoders.LEAK} == {0.2}
    bn = [layer.name for layer in body.layers
          if isinstance(layer, keras.layers.BatchNormalization)]
    # None after the first convolution (as in DCGAN's discriminator).
    assert bn == ["e_conv1_bn", "e_fc_bn"]
    # D never normalises: its real and generated pairs come in separate batches.
    d = encoders.build_dcgan_joint_discriminator(config, 8, dropout=0.5)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in d.layers)
    assert [layer.name for layer in d.layers if isinstance(layer, keras.layers.Dropout)] \
        == ["discriminator_drop_in", "discriminator_drop_joint"]


# ---------------------------------------------------------------------- models
def test_bigan_dcgan_networks_and_output_maps():
    model = _bigan(batch_norm=True)
    assert model.model_config.architecture == "dcgan"
    assert model.generator.get_layer("generator_out").activation.__name__ == "tanh"
    x = tf.constant(checks.images(4))
    pre = model.encoder.get_layer("encoder_net")(x, training=False)
    np.testing.assert_allclose(model.encode(x), np.tanh(pre), rtol=1e-5, atol=1e-6)
    assert isinstance(model.discriminator.get_layer("discriminator_z_fc"),
                      keras.layers.Dense)
    # The linear E of the normal prior keeps the Dense output as it is.
    linear = _bigan(prior="normal")
    pre = linear.encoder.get_layer("encoder_net")(x)
    np.testing.assert_allclose(linear.encoder(x), pre, rtol=1e-6)
    # The BEGAN backbone stays the default.
    assert BiGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4,
                         d_units=4).model_config.architecture == "began"


def test_age_dcgan_encoder_ends_on_the_sphere():
    model = _age(batch_norm=True)
    z = model.encode(tf.constant(checks.images(4)))
    np.testing.assert_allclose(np.linalg.norm(z, axis=-1), 1.0, rtol=1e-5)
    assert model.get_config()["architecture"] == "dcgan"


def test_unknown_architecture_is_named():
    with pytest.raises(ValueError, match="architecture"):
        _bigan(architecture="resnet")
    with pytest.raises(ValueError, match="architecture"):
        _age(architecture="resnet")


@pytest.mark.parametrize("family", ["bigan", "age"])
def test_two_replicas_equal_one(two_replica_strategy, family):
    # Batch norm in G (always) and E: synchronized statistics make two replicas
    # one device. AGE's g_loss is ~1,900 (lambda 1000): a small rate keeps its
    # updates (~0.01) where float round-off stays below the tolerance.
    def make():
        model = _bigan(batch_norm=True) if family == "bigan" else _age(batch_norm=True)
        checks.compile_sgd(model, 0.002 if family == "bigan" else 2e-6)
        return model

    checks.assert_two_replicas_equal_one(make, two_replica_strategy,
                                         checks.images(8, seed=4), ("g_loss", "e_loss"))


@pytest.mark.parametrize("family", ["bigan", "age"])
def test_round_trip_resumes_exactly(tmp_path, family):
    model = _bigan(d_dropout=0.2) if family == "bigan" else _age(g_steps=2)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    loaded = checks.fit_save_load(model, checks.images(8, seed=2),
                                  str(tmp_path / f"{family}.keras"))
    assert loaded.model_config.architecture == "dcgan"
    if family == "age":  # dropout in D draws fresh masks per call
        checks.assert_resumes_exactly(model, loaded, checks.images(8, seed=2))


# ---------------------------------------------------------------------- flags
@pytest.mark.parametrize("module,flag", [(flags_bigan, "bigan_architecture"),
                                         (flags_age, "age_architecture")])
def test_architecture_flags(module, flag):
    fv = flags.FlagValues()
    module.define_flags(fv)
    fv(["prog"])
    assert module.model_kwargs(fv)["architecture"] == "began"  # the class default
    fv = flags.FlagValues()
    module.define_flags(fv)
    fv(["prog", f"--{flag}=dcgan"])
    assert module.model_kwargs(fv)["architecture"] == "dcgan"
    fv = flags.FlagValues()
    module.define_flags(fv)
    with pytest.raises(flags.IllegalFlagValueError):
        fv(["prog", f"--{flag}=resnet"])

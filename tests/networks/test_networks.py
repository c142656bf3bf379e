"""Berthelot et al. 2017 sec. 3.5 networks: shapes, layer counts, strides, filter growth, sizes."""

import keras
import numpy as np
import pytest

from tfbegan.checks import SUPPORTED_IMAGE_SIZES
from tfbegan.models.config import ModelConfig
from tfbegan.networks import began


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _layers(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


@pytest.mark.parametrize("size", SUPPORTED_IMAGE_SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_structure(size, channels):
    n, repeats = 4, 2
    cfg = ModelConfig(image_size=size, channels=channels, filters=n, repeats=repeats,
                      z_dim=5, h_dim=7)
    scales = int(np.log2(size)) - 2
    enc = began.build_encoder(cfg)
    assert enc.input_shape == (None, size, size, channels)
    assert enc.output_shape == (None, 7)
    convs = _convs(enc)
    # One input conv, `repeats` per scale, one stride-2 conv between scales.
    assert len(convs) == 1 + scales * repeats + (scales - 1)
    strided = [c for c in convs if c.strides == (2, 2)]
    assert len(strided) == scales - 1
    assert all(c.kernel_size == (3, 3) and c.activation is keras.activations.elu
               for c in convs)
    # Filters grow linearly: input conv n, scale i (i+1)n, down-sampling to (i+2)n.
    expected = [n]
    for i in range(scales):
        expected += [(i + 1) * n] * repeats
        if i < scales - 1:
            expected.append((i + 2) * n)
    assert [c.filters for c in convs] == expected
    assert [c.filters for c in strided] == [(i + 2) * n for i in range(scales - 1)]
    # Spatial size halves at each strided conv, ending at the 8x8 bottleneck.
    assert [c.output.shape[1] for c in strided] == [size >> (i + 1) for i in range(scales - 1)]
    assert convs[-1].output.shape[1:] == (8, 8, scales * n)
    dense = _layers(enc, keras.layers.Dense)
    assert len(dense) == 1 and dense[0].activation is keras.activations.linear
    assert dense[0].kernel.shape == (8 * 8 * scales * n, 7)
    assert not _layers(enc, keras.layers.UpSampling2D)
    assert not _layers(enc, keras.layers.MaxPooling2D)


@pytest.mark.parametrize("size", SUPPORTED_IMAGE_SIZES)
@pytest.mark.parametrize("builder, in_dim", [("decoder", 7), ("generator", 5)])
def test_decoder_and_generator_structure(size, builder, in_dim):
    n, repeats, channels = 4, 2, 3
    cfg = ModelConfig(image_size=size, channels=channels, filters=n, repeats=repeats,
                      z_dim=5, h_dim=7)
    scales = int(np.log2(size)) - 2
    net = (began.build_decoder(cfg) if builder == "decoder"
           else began.build_generator(cfg))
    # N_z and N_h are independent (paper sec. 4.5).
    assert net.input_shape == (None, in_dim)
    assert net.output_shape == (None, size, size, channels)
    dense = _layers(net, keras.layers.Dense)
    assert len(dense) == 1 and dense[0].activation is keras.activations.linear
    assert dense[0].kernel.shape == (in_dim, 8 * 8 * n)
    convs = _convs(net)
    assert len(convs) == scales * repeats + 1
    assert all(c.strides == (1, 1) and c.kernel_size == (3, 3) for c in convs)
    assert [c.filters for c in convs] == [n] * (scales * repeats) + [channels]
    assert all(c.activation is keras.activations.elu for c in convs[:-1])
    assert convs[-1].activation is keras.activations.linear
    ups = _layers(net, keras.layers.UpSampling2D)
    assert len(ups) == scales - 1
    assert all(u.interpolation == "nearest" and u.size == (2, 2) for u in ups)
    assert not _layers(net, keras.layers.Conv2DTranspose)
    # First block works at the 8x8 bottleneck.
    assert convs[0].output.shape[1:] == (8, 8, n)


@pytest.mark.parametrize("size", SUPPORTED_IMAGE_SIZES)
def test_discriminator_is_an_autoencoder(size):
    cfg = ModelConfig(image_size=size, channels=1, filters=4, z_dim=5, h_dim=7)
    disc = began.build_discriminator(cfg)
    assert disc.input_shape == disc.output_shape == (None, size, size, 1)
    names = [layer.name for layer in disc.layers]
    assert "encoder" in names and "decoder" in names


def test_256_forward_pass():
    # Built (and run once on one image), never trained.
    cfg = ModelConfig(image_size=256, channels=3, filters=2, z_dim=3, h_dim=3)
    gen, disc = began.build_generator(cfg), began.build_discriminator(cfg)
    img = gen(np.zeros((1, 3), np.float32))
    assert img.shape == (1, 256, 256, 3)
    assert disc(img).shape == (1, 256, 256, 3)


def test_repeats_changes_layers_per_scale():
    cfg = ModelConfig(image_size=16, channels=1, filters=4, repeats=3, z_dim=4, h_dim=4)
    # 2 scales: encoder 1 + 2*3 + 1 convs, decoder 2*3 + 1.
    assert len(_convs(began.build_encoder(cfg))) == 8
    assert len(_convs(began.build_decoder(cfg))) == 7


def test_generator_and_decoder_have_separate_weights():
    cfg = ModelConfig(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4)
    gen = began.build_generator(cfg)
    disc = began.build_discriminator(cfg)
    gen_ids = {id(v) for v in gen.weights}
    assert not gen_ids & {id(v) for v in disc.weights}


def test_parameter_counts_32px_n64():
    # 32x32, n = 64, N_z = N_h = 64, 3 channels, 2 convs per scale -> 3 scales.
    # A 3x3 conv from a to b channels has 9*a*b + b parameters.
    #
    # Generator (= decoder with N_z inputs):
    #   Dense 64 -> 8*8*64 = 4096:  64*4096 + 4096          =   266,240
    #   6 convs 64 -> 64 (3 scales x 2): 6 * (9*64*64 + 64) = 6 * 36,928 = 221,568
    #   output conv 64 -> 3:          9*64*3 + 3            =     1,731
    #   total                                               =   489,539
    #
    # Encoder:
    #   input conv 3 -> 64:           9*3*64 + 64           =     1,792
    #   scale 0, 2 convs 64 -> 64:    2 * 36,928            =    73,856
    #   stride-2 conv 64 -> 128:      9*64*128 + 128        =    73,856
    #   scale 1, 2 convs 128 -> 128:  2 * (9*128*128 + 128) =   295,168
    #   stride-2 conv 128 -> 192:     9*128*192 + 192       =   221,376
    #   scale 2, 2 convs 192 -> 192:  2 * (9*192*192 + 192) =   663,936
    #   Dense 8*8*192 = 12288 -> 64:  12288*64 + 64         =   786,496
    #   total                                               = 2,116,480
    # Discriminator = encoder + decoder (N_h = 64 inputs, same count as G):
    #   2,116,480 + 489,539                                 = 2,606,019
    cfg = ModelConfig(image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                      h_dim=64)
    assert began.build_generator(cfg).count_params() == 489_539
    assert began.build_encoder(cfg).count_params() == 2_116_480
    assert began.build_discriminator(cfg).count_params() == 2_606_019

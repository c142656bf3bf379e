"""tfbegan.imaging: the one home of value ranges, channels, resizing and real images."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfbegan import imaging
from tfbegan.data import mnist5k, real_images


def test_uint8_round_trip_and_hand_values():
    values = np.arange(256, dtype=np.uint8)
    x = imaging.from_uint8(values)
    np.testing.assert_allclose(x[[0, 51, 255]], [-1.0, 51 / 127.5 - 1.0, 1.0], atol=1e-7)
    np.testing.assert_array_equal(imaging.to_uint8(x), values)
    # Outside [-1, 1] clips; 0.0 is 127.5, which rounds half to even: 128.
    np.testing.assert_array_equal(imaging.to_uint8([-3.0, 0.0, 3.0]), [0, 128, 255])
    t = imaging.from_uint8(tf.constant([0, 255], tf.uint8))
    assert tf.is_tensor(t) and t.dtype == tf.float32


def test_to_zero_one_keeps_the_input_kind():
    np.testing.assert_allclose(imaging.to_zero_one(np.array([-1.0, 0.0, 1.0])),
                               [0.0, 0.5, 1.0])
    t = imaging.to_zero_one(tf.constant([-3.0, 0.5]), clip=True)
    assert tf.is_tensor(t)
    np.testing.assert_allclose(t.numpy(), [0.0, 0.75])
    np.testing.assert_allclose(imaging.as_model_range(np.array([0, 255], np.uint8)),
                               [-1.0, 1.0])


def test_match_channels_luma_and_repeat():
    red = np.array([[[[1.0, -1.0, -1.0]]]], np.float32)  # pure red in [-1, 1]
    # Luma weights sum to 1, so the map is the same in [-1, 1]: .299 - .587 - .114.
    np.testing.assert_allclose(imaging.match_channels(red, 1), [[[[-0.402]]]], atol=1e-6)
    t = imaging.match_channels(tf.constant(red), 1)
    assert tf.is_tensor(t)
    np.testing.assert_allclose(t.numpy(), [[[[-0.402]]]], atol=1e-6)
    grey = np.full((1, 2, 2, 1), 0.25, np.float32)
    np.testing.assert_array_equal(imaging.match_channels(grey, 3), np.full((1, 2, 2, 3),
                                                                           0.25))
    with pytest.raises(ValueError, match="channels=2"):
        imaging.match_channels(grey, 2)


def test_file_and_array_of_one_rgb_image_give_the_same_grey(tmp_path):
    # A folder image goes through PIL's "L" conversion, a .npy array through
    # match_channels: one rule (BT.601 luma) for both. The channel mean used before
    # gave -0.333 for the array against -0.404 for the file.
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    np.save(tmp_path / "red.npy", rgb[None])
    from_file = real_images.load_real_images(str(tmp_path / "red.png"), 1, 4, 1)
    from_array = real_images.load_real_images(str(tmp_path / "red.npy"), 1, 4, 1)
    np.testing.assert_allclose(from_file, 76 / 127.5 - 1.0, atol=1e-6)   # PIL: 76
    np.testing.assert_allclose(from_array, from_file, atol=1 / 127.5)


def test_resize_is_the_training_pipelines_filter():
    digits32, _ = mnist5k.load_mnist5k(32)
    ours = np.clip(imaging.resize(np.array(digits32[:8]), 16), -1.0, 1.0)
    np.testing.assert_allclose(ours, mnist5k.load_mnist5k(16)[0][:8], atol=1e-6)
    same = np.zeros((1, 4, 4, 1), np.float32)
    assert imaging.resize(same, 4) is same
    assert tf.is_tensor(imaging.resize(tf.zeros([1, 4, 4, 1]), 2))


def test_upscale_nearest_and_bad_factor():
    image = np.array([[[1], [2]]], np.uint8)
    np.testing.assert_array_equal(imaging.upscale(image, 2)[..., 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2]])
    with pytest.raises(ValueError, match="scale=0"):
        imaging.upscale(image, 0)


def test_load_real_images_sources(tmp_path):
    # mnist5k: a seeded random choice (the embedded digits are sorted by class).
    digits, _ = mnist5k.load_mnist5k(8)
    pick = np.random.default_rng(3).permutation(len(digits))[:5]
    np.testing.assert_array_equal(real_images.load_real_images("mnist5k", 5, 8, 1, seed=3),
                                  digits[pick])
    # Float .npy of shape [N, H, W], resized and repeated to RGB.
    np.save(tmp_path / "f.npy", np.full((3, 8, 8), 0.5, np.float32))
    x = real_images.load_real_images(str(tmp_path / "f.npy"), 2, 4, 3)
    assert x.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(x, 0.5, atol=1e-6)
    # A comma-separated list keeps its order; a 6x4 image keeps its centred 4x4.
    a = np.zeros((4, 6, 1), np.uint8)
    a[:, 1:5] = 255
    Image.fromarray(a[..., 0]).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "b.png")
    y = real_images.load_real_images(f"{tmp_path / 'b.png'},{tmp_path / 'a.png'}", 5, 4, 1)
    np.testing.assert_allclose(y[:, 0, 0, 0], [-1.0, 1.0])
    with pytest.raises(FileNotFoundError, match="missing.png"):
        real_images.load_real_images(str(tmp_path / "missing.png"), 1, 4, 1)
    with pytest.raises(ValueError, match="num=0"):
        real_images.load_real_images("mnist5k", 0, 8, 1)


def test_positional_concrete_function_gives_z_dim():
    from tfbegan.serving import loading

    fn = tf.function(lambda z: tf.reshape(z, [-1, 2, 2, 1])).get_concrete_function(
        tf.TensorSpec([None, 4], tf.float32))
    call, z_dim = loading.as_generator_fn(fn)
    assert z_dim == 4
    np.testing.assert_allclose(call(tf.ones([1, 4])).numpy(), np.ones((1, 2, 2, 1)))

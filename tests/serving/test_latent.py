"""z-inversion, interpolation and Figure 4 rows (tfbegan/serving/latent.py, BEGAN sec. 4.3)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.data import real_images
from tfbegan.models import BEGAN
from tfbegan.models.config import ModelConfig
from tfbegan.networks.began import build_generator
from tfbegan.serving import latent, loading

Z_DIM = 4


@pytest.fixture(scope="module")
def generator():
    keras.utils.set_random_seed(1)
    cfg = ModelConfig(image_size=8, channels=1, filters=4, repeats=1, z_dim=Z_DIM,
                      h_dim=4)
    return build_generator(cfg)


@pytest.fixture(scope="module")
def known_z():
    return np.random.RandomState(0).uniform(-0.9, 0.9, (6, Z_DIM)).astype(np.float32)


def test_invert_recovers_known_z(generator, known_z):
    x = generator(known_z).numpy()
    z, err = latent.invert(generator, x, steps=300, learning_rate=0.05, seed=3)
    assert z.shape == (6, Z_DIM) and err.shape == (6,)
    assert err.max() < 1e-4
    np.testing.assert_allclose(z, known_z, atol=1e-3)
    # The returned error is mean |x - G(z)| of the returned z.
    recomputed = np.abs(x - generator(z).numpy()).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(err, recomputed, rtol=1e-4, atol=1e-7)


def test_invert_is_per_image_independent_of_batch_size(generator, known_z):
    x = generator(known_z).numpy()
    z_a, err_a = latent.invert(generator, x, steps=40, batch_size=6, seed=5)
    z_b, err_b = latent.invert(generator, x, steps=40, batch_size=4, seed=5)
    np.testing.assert_allclose(z_a, z_b, atol=1e-5)
    np.testing.assert_allclose(err_a, err_b, atol=1e-6)


def test_invert_keeps_z_in_the_uniform_support():
    # G(z) = z[0] everywhere: the image 0.5 is reached at z0 = 0.5; the image 0.99
    # needs z0 = 0.99; with a linear callable G(z) = 2 z the image 1.6 needs z0 = 0.8
    # and the image 3 would need z0 = 1.5, outside [-1, 1]: clipped to 1.
    def g(z):
        return tf.tile(tf.reshape(2.0 * z[:, :1], [-1, 1, 1, 1]), [1, 4, 4, 1])

    x = np.stack([np.full((4, 4, 1), v, np.float32) for v in (1.6, 3.0)])
    z, err = latent.invert(g, x, steps=300, learning_rate=0.05, z_dim=2)
    assert np.all(np.abs(z) <= 1.0)
    np.testing.assert_allclose(z[:, 0], [0.8, 1.0], atol=1e-4)
    np.testing.assert_allclose(err, [0.0, 1.0], atol=2e-4)
    # The normal prior has no bound: the second image is matched exactly.
    z, err = latent.invert(g, x, steps=500, learning_rate=0.1, z_dim=2, prior="normal")
    np.testing.assert_allclose(z[:, 0], [0.8, 1.5], atol=1e-3)


def test_invert_validates_arguments(generator):
    x = np.zeros((1, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="prior"):
        latent.invert(generator, x, prior="cauchy")
    with pytest.raises(ValueError, match="steps"):
        latent.invert(generator, x, steps=0)
    with pytest.raises(ValueError, match="z_dim"):
        latent.invert(lambda z: z, x)
    with pytest.raises(ValueError, match="images"):
        latent.invert(generator, np.zeros((8, 8, 1), np.float32))


def test_invert_through_exported_savedmodel(tmp_path, known_z):
    """Gradients flow through a restored ExportArchive signature (the path
    tfbegan-invert takes), so an exported generator can be inverted."""
    from tfbegan.serving import export

    keras.utils.set_random_seed(2)
    model = BEGAN(image_size=8, channels=1, filters=4, repeats=1, z_dim=Z_DIM,
                          h_dim=4)
    path = export.export_generator(model, str(tmp_path / "began"))
    loaded, info = loading.load_generator(export_dir=str(tmp_path / "began"))
    assert info["z_dim"] == Z_DIM and info["image_size"] == 8 and info["channels"] == 1
    assert info["source"] == os.path.abspath(path)
    sig = loaded.signatures["serving_default"]
    z = tf.constant(known_z)
    with tf.GradientTape() as tape:
        tape.watch(z)
        total = tf.reduce_sum(sig(z=z)["images_float"])
    grad = tape.gradient(total, z)
    assert grad is not None and np.abs(grad.numpy()).sum() > 0
    x = model.generate(known_z).numpy()
    z_r, err = latent.invert(loaded, x, steps=300, learning_rate=0.05)
    assert err.max() < 1e-4
    np.testing.assert_allclose(z_r, known_z, atol=1e-3)


def test_interpolate_linear_values_and_exact_endpoints():
    a = np.array([0.1, -0.3, 0.7], np.float32)
    b = np.array([0.5, 0.3, -0.7], np.float32)
    path = latent.interpolate(a, b, 5)
    assert path.shape == (5, 3)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    np.testing.assert_allclose(path[2], [0.3, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(path[1], 0.75 * a + 0.25 * b, atol=1e-7)
    batch = latent.interpolate(np.stack([a, b]), np.stack([b, a]), 3)
    assert batch.shape == (2, 3, 3)
    np.testing.assert_allclose(batch[1, 1], path[2], atol=1e-7)
    with pytest.raises(ValueError, match="steps"):
        latent.interpolate(a, b, 1)


def test_interpolate_spherical():
    a = np.array([1.0, 0.0], np.float32)
    b = np.array([0.0, 1.0], np.float32)
    path = latent.interpolate(a, b, 3, spherical=True)
    # Quarter circle: the midpoint is (1, 1) / sqrt(2), on the unit circle.
    np.testing.assert_allclose(path[1], [0.5 ** 0.5, 0.5 ** 0.5], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(latent.interpolate(a, b, 7, True), axis=1),
                               1.0, atol=1e-6)
    # Parallel vectors: the great circle is undefined; falls back to linear.
    np.testing.assert_allclose(latent.interpolate(a, 2 * a, 3, spherical=True)[1],
                               [1.5, 0.0], atol=1e-6)


def test_interpolation_endpoints_decode_to_generator_outputs(generator, known_z):
    for spherical in (False, True):
        path = latent.interpolate(known_z[0], known_z[1], 6, spherical=spherical)
        images = loading.generate(generator, path)
        # Equal up to float round-off: oneDNN's kernels depend on the batch size.
        np.testing.assert_allclose(images[0], generator(known_z[:1]).numpy()[0],
                                   rtol=0, atol=1e-6)
        np.testing.assert_allclose(images[-1], generator(known_z[1:2]).numpy()[0],
                                   rtol=0, atol=1e-6)


def test_figure4_rows(generator, known_z):
    x = generator(known_z[:4]).numpy()
    rows, errors = latent.figure4_rows(generator, x[:2], x[2:], steps=3,
                                       inversion_steps=300)
    assert rows.shape == (2, 3 + 4, 8, 8, 1) and errors.shape == (2, 2)
    np.testing.assert_array_equal(rows[:, 0], x[:2])    # real images at both ends
    np.testing.assert_array_equal(rows[:, -1], x[2:])
    np.testing.assert_allclose(rows[:, 1], x[:2], atol=1e-3)  # reconstructions
    np.testing.assert_allclose(rows[:, -2], x[2:], atol=1e-3)
    assert errors.max() < 1e-4
    # The middle column decodes the midpoint of the two recovered latents.
    mid = generator(((known_z[:2] + known_z[2:4]) / 2)).numpy()
    np.testing.assert_allclose(rows[:, 3], mid, atol=1e-3)


def test_load_images_folder_npy_and_mnist5k(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    # 12x8 (w x h) images: the centred 8x8 square is kept, then resized to 4x4.
    for i, value in enumerate((0, 255)):
        arr = np.full((8, 12, 3), value, np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")
    x = real_images.load_real_images(str(folder), 5, 4, 1)
    assert x.shape == (2, 4, 4, 1)
    np.testing.assert_allclose(x[:, 0, 0, 0], [-1.0, 1.0])
    np.save(tmp_path / "a.npy", np.full((3, 4, 4), 255, np.uint8))
    y = real_images.load_real_images(str(tmp_path / "a.npy"), 2, 4, 3)
    assert y.shape == (2, 4, 4, 3) and np.all(y == 1.0)
    d = real_images.load_real_images("mnist5k", 3, 16, 1, seed=0)
    assert d.shape == (3, 16, 16, 1) and d.min() >= -1 and d.max() <= 1
    with pytest.raises(FileNotFoundError):
        real_images.load_real_images(str(tmp_path / "missing.png"), 2, 4, 1)

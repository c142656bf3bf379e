"""Skip connections on the DCGAN-style pair (``architecture="dcgan"``,
``skip_connections=True``): G concatenates its H0, nearest-up-sampled, with the
output of its first transposed convolution (Li et al. 2018's "SC"); D's decoder has
no intermediate up-sampled tensor and stays as it is. Off by default; the mnist5k
denoising preset turns it on."""

import keras
import numpy as np

from tfbegan.models import DenoisingBEGAN
from tfbegan.models.config import ModelConfig
from tfbegan.networks import began


def _names(model):
    return [layer.name for layer in model.layers]


def test_generator_skip_joins_h0_to_the_first_up_sampling():
    n, size = 3, 16
    cfg = ModelConfig(image_size=size, channels=1, filters=n, z_dim=5, h_dim=7,
                      architecture="dcgan", skip_connections=True)
    gen = began.build_generator(cfg)
    assert "generator_skip1" in _names(gen) and "generator_h0_up1" in _names(gen)
    skip = gen.get_layer("generator_skip1")
    # up0's 2n channels plus H0's 4n, at (S/2)^2.
    assert tuple(skip.output.shape) == (None, size // 2, size // 2, 6 * n)
    assert gen.get_layer("generator_up1").input.shape[-1] == 6 * n
    out = gen(np.random.default_rng(0).normal(size=(2, 5)).astype("float32"))
    assert out.shape == (2, size, size, 1) and float(np.abs(out).max()) <= 1.0
    # Without the option (the default) G has no skip; D is the same either way.
    plain = began.build_generator(cfg.replace(skip_connections=False))
    assert "generator_skip1" not in _names(plain)
    assert plain.count_params() < gen.count_params()
    d_skip = began.build_discriminator(cfg)
    d_plain = began.build_discriminator(cfg.replace(skip_connections=False))
    assert d_skip.count_params() == d_plain.count_params()


def test_denoising_began_with_batch_norm_and_skips_on_the_dcgan_pair(tmp_path):
    keras.utils.set_random_seed(0)
    model = DenoisingBEGAN(image_size=8, channels=1, filters=2, z_dim=3, h_dim=3,
                           gamma=0.75, lambda_k=0.05, eta=2, lambda_noise=4.0,
                           batch_norm=True, skip_connections=True,
                           bn_statistics="separate", architecture="dcgan")
    assert "generator_skip1" in _names(model.generator)
    model.compile(**model.make_optimizers(1e-3, 0.5, d_lr_ratio=0.2))
    x = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"][0])
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.skip_connections and loaded.architecture == "dcgan"
    z = model.sample_z(4, seed=1)
    np.testing.assert_allclose(loaded.generate(z), model.generate(z), atol=1e-6)

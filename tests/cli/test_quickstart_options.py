"""Options the no-flag run uses beyond the papers: the DCGAN-style network pair
(``architecture="dcgan"``) and ``mixed_precision="auto"`` (tfbegan.training.precision)."""

import keras
import numpy as np
import pytest

from tfbegan.models import BEGAN
from tfbegan.models.config import ModelConfig
from tfbegan.models.denoising_began import DenoisingBEGAN
from tfbegan.networks import began
from tfbegan.training import precision
from tfbegan.training.config import TrainConfig


def _layers(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_dcgan_pair_structure(size, batch_norm):
    n, channels = 4, 1
    cfg = ModelConfig(image_size=size, channels=channels, filters=n, z_dim=5, h_dim=7,
                      batch_norm=batch_norm, architecture="dcgan")
    gen = began.build_generator(cfg)
    assert gen.input_shape == (None, 5) and gen.output_shape == (None, size, size, 1)
    # Dense 32n, Dense (S/4)^2 4n, two stride-2 transposed convs; batch norm after
    # the two Dense layers and the first transposed conv; tanh output.
    dense = _layers(gen, keras.layers.Dense)
    assert [d.units for d in dense] == [32 * n, (size // 4) ** 2 * 4 * n]
    up = _layers(gen, keras.layers.Conv2DTranspose)
    assert [(u.filters, u.strides) for u in up] == [(2 * n, (2, 2)), (channels, (2, 2))]
    assert len(_layers(gen, keras.layers.BatchNormalization)) == 3
    out = gen(np.random.default_rng(0).uniform(-1, 1, (3, 5)).astype("float32"))
    assert float(np.abs(out).max()) <= 1.0
    disc = began.build_discriminator(cfg)
    assert disc.output_shape == (None, size, size, 1)
    enc, dec = disc.layers[1], disc.layers[2]
    convs = _layers(enc, keras.layers.Conv2D)
    assert [(c.filters, c.strides) for c in convs] == [(2 * n, (2, 2))]
    assert enc.output_shape == (None, 7)
    assert [d.units for d in _layers(dec, keras.layers.Dense)] == [(size // 2) ** 2 * 2 * n]
    assert len(_layers(dec, keras.layers.Conv2DTranspose)) == 1
    bn = _layers(enc, keras.layers.BatchNormalization) + _layers(
        dec, keras.layers.BatchNormalization)
    assert len(bn) == (2 if batch_norm else 0)


def test_dcgan_config_validation():
    with pytest.raises(ValueError, match="architecture='resnet' is not supported"):
        ModelConfig(architecture="resnet")
    # The dcgan pair takes skip connections in G (tests/test_dcgan_skip.py).
    assert ModelConfig(architecture="dcgan", skip_connections=True).skip_connections
    assert ModelConfig().architecture == "began"


def test_dcgan_models_train_and_round_trip(tmp_path):
    model = DenoisingBEGAN(image_size=8, channels=1, filters=2, z_dim=3, h_dim=3,
                           gamma=1.0, lambda_k=0.05, eta=2, lambda_noise=4.0,
                           batch_norm=False, skip_connections=False, architecture="dcgan")
    assert model.get_config()["architecture"] == "dcgan"
    model.compile(**model.make_optimizers(2e-4, 0.5))
    x = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"][0]) and "loss_denoise" in logs
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.architecture == "dcgan"
    z = model.sample_z(4, seed=1)
    np.testing.assert_allclose(loaded.generate(z), model.generate(z), atol=1e-6)
    # The paper network stays the default of every class.
    assert BEGAN(image_size=8, channels=1, filters=2, z_dim=2,
                         h_dim=2).architecture == "began"


def _cpuinfo(tmp_path, *flag_lines):
    path = tmp_path / "cpuinfo"
    path.write_text("".join(f"processor\t: {i}\nflags\t\t: {line}\n\n"
                            for i, line in enumerate(flag_lines)))
    return str(path)


def test_cpu_flags_and_native_bfloat16(tmp_path):
    both = _cpuinfo(tmp_path, "fpu avx2 avx512f avx512_bf16", "fpu avx2 avx512f avx512_bf16")
    assert precision.cpu_flags(both) == {"fpu", "avx2", "avx512f", "avx512_bf16"}
    assert precision.cpu_has_native_bfloat16(both)
    # One core without it: not native on every core, so no.
    assert not precision.cpu_has_native_bfloat16(
        _cpuinfo(tmp_path, "fpu avx512_bf16", "fpu avx2"))
    assert not precision.cpu_has_native_bfloat16(_cpuinfo(tmp_path, "fpu avx2 avx512f"))
    assert precision.cpu_has_native_bfloat16(_cpuinfo(tmp_path, "fpu amx_bf16 amx_tile"))
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()


def test_resolve_auto(tmp_path):
    native = _cpuinfo(tmp_path, "fpu avx512_bf16")
    assert precision.resolve("auto", native, has_gpu=False) == "bfloat16"
    # Never slow down a CPU without native bfloat16; GPUs keep float32 unless asked.
    assert precision.resolve("auto", _cpuinfo(tmp_path, "fpu avx2"), has_gpu=False) is None
    assert precision.resolve("auto", native, has_gpu=True) is None
    for explicit in (None, "bfloat16", "float16"):
        assert precision.resolve(explicit, native, has_gpu=False) == explicit
    with pytest.raises(ValueError, match="mixed_precision='int8'"):
        precision.resolve("int8")
    assert TrainConfig(mixed_precision="auto").mixed_precision == "auto"


def test_pull_away_term_hand_computed():
    import tensorflow as tf

    from tfbegan.losses.terms import pull_away_term

    # Codes (1, 0), (0, 1), (1, 1): squared cosines 0, 1/2, 1/2 per pair, each
    # counted twice (i != j): 2 / (3 * 2) = 1/3. Scale does not matter.
    assert float(pull_away_term(tf.constant([[1.0, 0.0], [0.0, 5.0], [2.0, 2.0]]))) == \
        pytest.approx(1 / 3)
    assert float(pull_away_term(tf.constant([[1.0, 2.0], [-2.0, -4.0]]))) == \
        pytest.approx(1.0)
    assert float(pull_away_term(tf.eye(4))) == pytest.approx(0.0)


def test_latent_constraint_hand_computed():
    import tensorflow as tf

    from tfbegan.losses.terms import latent_constraint

    # |1 - 0| + |2 - 0.5| + |-1 - (-1)| + |0 - 0.5| = 3 over 4 entries.
    assert float(latent_constraint(tf.constant([[1.0, 2.0], [-1.0, 0.0]]),
                                   tf.constant([[0.0, 0.5], [-1.0, 0.5]]))) == \
        pytest.approx(0.75)


def test_code_terms_train_and_are_reported():
    x = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    kwargs = dict(image_size=8, channels=1, filters=2, z_dim=3, h_dim=3, lambda_noise=4.0,
                  batch_norm=False, skip_connections=False)
    model = DenoisingBEGAN(pull_away_weight=0.1, latent_constraint_weight=0.1, **kwargs)
    assert model.get_config()["pull_away_weight"] == 0.1
    model.compile(**model.make_optimizers(2e-4, 0.5))
    logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    assert 0.0 <= logs["pull_away"][0] <= 1.0 and logs["latent_constraint"][0] > 0
    # g_loss = L(G(z)) + 0.1 * PT (no historical averaging); the means are over
    # the same two steps.
    assert logs["g_loss"][0] == pytest.approx(
        logs["loss_fake"][0] + 0.1 * logs["pull_away"][0], rel=1e-5)
    assert "pull_away" in model.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    off = DenoisingBEGAN(**kwargs)
    assert not {"pull_away", "latent_constraint"} & set(off.metric_names())
    with pytest.raises(ValueError, match="needs h_dim == z_dim"):
        DenoisingBEGAN(**{**kwargs, "h_dim": 4}, latent_constraint_weight=0.1)
    with pytest.raises(ValueError, match="pull_away_weight"):
        DenoisingBEGAN(pull_away_weight=-1.0, **kwargs)

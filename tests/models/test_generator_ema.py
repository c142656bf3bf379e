"""The generator EMA (Yazici et al. 2019; tfbegan.models.ema): the warmed-up decay,
one and two steps by hand, batch-norm statistics, sampling, export, checkpoints and
resume, two replicas, validation and the flag."""


import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.data.config import DataConfig
from tfbegan.models import BEGAN, VAEBEGAN, DenoisingBEGAN
from tfbegan.models.config import ModelConfig
from tfbegan.models.ema import ema_decay
from tfbegan.serving import export as export_lib
from tfbegan.serving import loading
from tfbegan.training import checkpoints

# The DCGAN-style pair: its generator has batch norm (moving statistics to copy).
SMALL = dict(image_size=8, channels=1, filters=4, z_dim=4, h_dim=6, architecture="dcgan",
             seed=3)


_images = checks.images


def _model(cls=BEGAN, lr=0.1, **kwargs):
    keras.utils.set_random_seed(0)
    if cls is DenoisingBEGAN:
        kwargs = {"batch_norm": False, "skip_connections": False, **kwargs}
    model = cls(**{**SMALL, **kwargs})
    model.compile(d_optimizer=keras.optimizers.SGD(lr), g_optimizer=keras.optimizers.SGD(lr))
    return model


def _values(variables):
    return [np.array(v) for v in variables]


def _trainable_pairs(model):
    """(shadow, live) pairs of G's trainable weights."""
    return [(s, w) for s, w in zip(model.ema_generator.weights, model.generator.weights,
                                   strict=True) if w.trainable]


# ----------------------------------------------------------------- the decay
def test_warm_up_decay_by_hand():
    # min(d, (1 + t) / (10 + t)): 1/10, 2/11, 3/12, ... up to d.
    assert float(ema_decay(0.999, 0)) == pytest.approx(0.1)
    assert float(ema_decay(0.999, 1)) == pytest.approx(2 / 11)
    assert float(ema_decay(0.999, 2)) == pytest.approx(0.25)
    assert float(ema_decay(0.999, 990)) == pytest.approx(991 / 1000)
    assert float(ema_decay(0.999, 3000)) == pytest.approx(3001 / 3010)
    assert float(ema_decay(0.999, 100_000)) == pytest.approx(0.999)
    assert float(ema_decay(0.2, 1)) == pytest.approx(2 / 11)   # 0.1818 < 0.2
    assert float(ema_decay(0.2, 2)) == pytest.approx(0.2)      # 0.25 > 0.2


# ----------------------------------------------------------------- the update
@pytest.mark.parametrize("cls", [BEGAN, DenoisingBEGAN])
def test_two_steps_by_hand(cls):
    model = _model(cls, generator_ema=0.999)
    w0 = _values(model.generator.weights)
    # The shadow starts as a copy of G.
    for s, w in zip(_values(model.ema_generator.weights), w0, strict=True):
        np.testing.assert_array_equal(s, w)
    x = _images(4, seed=1)
    model.train_on_batch(x)
    w1 = _values(model.generator.weights)
    model.train_on_batch(x)
    w2 = _values(model.generator.weights)
    assert int(model.g_optimizer.iterations) == 2
    trainable = [w.trainable for w in model.generator.weights]
    shadow = _values(model.ema_generator.weights)
    for i, is_trainable in enumerate(trainable):
        if not is_trainable:
            # Batch norm's moving statistics: copied from G.
            np.testing.assert_array_equal(shadow[i], w2[i])
            continue
        # Step 1: d_1 = 2/11; step 2: d_2 = 3/12.
        s1 = 2 / 11 * w0[i] + 9 / 11 * w1[i]
        s2 = 0.25 * s1 + 0.75 * w2[i]
        np.testing.assert_allclose(shadow[i], s2, rtol=1e-5, atol=1e-7)
    assert sum(not t for t in trainable) >= 2  # moving mean and variance were checked
    # The shadow is not G: it lags behind it.
    assert max(np.abs(s - w).max() for s, w in zip(shadow, w2, strict=True)) > 1e-4


def test_one_scalar_by_hand():
    # One weight followed through a step: w0 -> w1 = w0 - lr * g, shadow = d w0 + (1-d) w1
    # with d = min(0.1, 2/11) = 0.1 (the decay, not the warm-up, is the smaller).
    model = _model(generator_ema=0.1)
    kernel, shadow_kernel = _trainable_pairs(model)[0][1], _trainable_pairs(model)[0][0]
    before = float(kernel.numpy().flat[0])
    model.train_on_batch(_images(4, seed=2))
    after = float(kernel.numpy().flat[0])
    shadow = float(shadow_kernel.numpy().flat[0])
    assert after != before
    assert shadow == pytest.approx(0.1 * before + 0.9 * after, rel=1e-6, abs=1e-9)


def test_off_by_default_builds_nothing():
    for cls in (BEGAN, DenoisingBEGAN):
        kw = dict(SMALL) if cls is BEGAN else dict(SMALL, skip_connections=False)
        model = cls(**kw)
        assert model.generator_ema == 0.0 and model.ema_generator is None
        assert model.sampling_generator is model.generator
        assert model.get_config()["generator_ema"] == 0.0
        # Only the shadow's weights are added when on.
        with_ema = cls(**kw, generator_ema=0.5)
        assert (len(with_ema.weights) - len(model.weights)
                == len(model.generator.weights))
    model = _model()
    z = model.sample_z(3, seed=1)
    model.train_on_batch(_images(4))
    np.testing.assert_array_equal(model.generate(z), model.generator(z, training=False))


# ----------------------------------------------------------------- sampling and export
def test_generate_checkpoint_generator_and_export_use_the_shadow(tmp_path):
    model = _model(generator_ema=0.999)
    for seed in range(3):
        model.train_on_batch(_images(4, seed=seed))
    z = model.sample_z(5, seed=7)
    ema_out = model.ema_generator(z, training=False).numpy()
    live_out = model.generator(z, training=False).numpy()
    assert np.abs(ema_out - live_out).max() > 1e-4
    np.testing.assert_array_equal(model.generate(z).numpy(), ema_out)
    np.testing.assert_array_equal(model.generate(5, seed=7).numpy(), ema_out)

    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded_gen, info = loading.load_generator(checkpoint=path)
    np.testing.assert_allclose(loaded_gen(z, training=False).numpy(), ema_out, atol=1e-6)
    assert info["z_dim"] == 4

    export_dir = export_lib.export_generator(model, str(tmp_path / "export"))
    served = tf.saved_model.load(export_dir).signatures["serving_default"](z=z)
    np.testing.assert_allclose(served["images_float"].numpy(), np.clip(ema_out, -1, 1),
                               atol=1e-5)
    # The export holds the shadow only, not the live generator as well.
    entries = tf.train.list_variables(f"{export_dir}/variables/variables")
    stored = sum(int(np.prod(shape)) for name, shape in entries
                 if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"))
    assert stored == sum(int(np.prod(v.shape)) for v in model.ema_generator.weights)


# ----------------------------------------------------------------- checkpoints, resume
def test_checkpoint_round_trip_and_resume_continue_the_average(tmp_path):
    model = _model(DenoisingBEGAN, generator_ema=0.999)
    x = _images(4, seed=5)
    model.train_on_batch(x)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config()["generator_ema"] == 0.999
    assert int(loaded.g_optimizer.iterations) == 1
    for a, b in zip(model.ema_generator.weights, loaded.ema_generator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # One more step each: the same shadow (d_2 = 3/12 from the restored count).
    model.train_on_batch(x)
    loaded.train_on_batch(x)
    for a, b in zip(model.ema_generator.weights, loaded.ema_generator.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_train_lib_checkpoint_holds_the_shadow(tmp_path):
    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    kw = dict(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4,
              architecture="dcgan", generator_ema=0.99)
    cfg = TrainConfig(model_kwargs=kw, data=DataConfig(image_size=8),
                      batch_size=4, steps=2, log_every=1, checkpoint_every=2,
                      sample_every=100, export_base=None)
    work = str(tmp_path / "run")
    assert train_lib.train(cfg, work)["step"] == 2
    model, state = checkpoints.load_checkpoint(checkpoints.latest_checkpoint(work),
                                               compile=False)
    assert state["step"] == 2 and model.generator_ema == 0.99
    diff = max(float(np.abs(s.numpy() - w.numpy()).max())
               for s, w in _trainable_pairs(model))
    assert diff > 0  # an average, not a copy of G
    # Resuming to step 3 continues from the stored shadow and count.
    assert train_lib.train(cfg.replace(steps=3), work)["step"] == 3


# ----------------------------------------------------------------- replicas
def test_two_replicas_equal_one(two_replica_strategy):
    x = _images(8, seed=4)
    shadows = []
    for strategy in (tf.distribute.get_strategy(), two_replica_strategy):
        with strategy.scope():
            model = _model(generator_ema=0.9)
        model.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0)
        assert model.g_optimizer.iterations.numpy() == 4
        shadows.append(model.ema_generator.weights)
    for a, b in zip(*shadows, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=2e-6)
        # Every replica holds the same shadow.
        copies = [c.numpy() for c in b.value.values]
        assert len(copies) == 2
        np.testing.assert_array_equal(copies[0], copies[1])


# ----------------------------------------------------------------- validation, flag
@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_bad_decay_is_refused_with_the_range(bad):
    with pytest.raises(ValueError, match=r"generator_ema=.* (out of range; allowed: "
                                         r"\[0\.0, 1\.0\)|must be finite)"):
        ModelConfig(generator_ema=bad)
    with pytest.raises(ValueError, match="generator_ema="):
        BEGAN(**SMALL, generator_ema=bad)
    with pytest.raises(ValueError, match="generator_ema=.* must be a number"):
        ModelConfig(generator_ema="0.9")


def test_vae_began_refuses_it():
    with pytest.raises(ValueError, match="VAEBEGAN does not take 'generator_ema'"):
        VAEBEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4,
                         generator_ema=0.9)

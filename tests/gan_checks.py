"""What the model tests share: their model shapes, their random images, and the
checks the encoder models (BiGAN, AGE) share: each optimizer applies the gradient of
its own loss, and two replicas train like one device.

Tests whose hand-computed values need another shape keep their own dict beside it.
"""

import keras
import numpy as np
import tensorflow as tf

#: The shape most model tests train: 8 px grey, one convolution per scale.
TINY = dict(image_size=8, channels=1, filters=4, repeats=1, z_dim=4, h_dim=6, seed=3)
#: BEGAN's layout of Berthelot et al. 2017 (two convolutions per scale) at 8 px.
SMALL = dict(image_size=8, channels=1, filters=4, repeats=2, z_dim=4, h_dim=6)


def images(n=4, seed=0, size=8, channels=1):
    """``n`` ``size`` x ``size`` images of ``channels`` channels, uniform in [-1, 1]."""
    return np.random.RandomState(seed).uniform(
        -1, 1, (n, size, size, channels)).astype("float32")


def compile_sgd(model, lr=0.1):
    """Compiles ``model`` with plain SGD(lr), one optimizer per network."""
    model.compile(**{f"{name}_optimizer": keras.optimizers.SGD(lr)
                     for name, _ in model.optimizer_networks})


def assert_sgd_step_applies_own_gradients(model, x, lr, wrong, atol=1e-6, rtol=0.0):
    """One SGD step of ``model`` (compiled with SGD(lr) per network) moves each
    network by ``-lr * d(own loss)/d(own weights)``, from step 0's forward pass.

    ``wrong = (loss, network)`` names another loss that reaches that network: its
    gradient must differ, so that the check can tell a mixed-up update apart.
    """
    z = model.sample_z(x.shape[0], model.seed, 0)  # step 0's z: (seed, step)
    nets = {name: getattr(model, network) for name, network in model.optimizer_networks}
    before = {k: [v.numpy() for v in n.trainable_variables] for k, n in nets.items()}
    with tf.GradientTape(persistent=True) as tape:
        out = model.compute_losses(tf.constant(x), z, training=True)
    grads = {k: tape.gradient(out[f"{k}_loss"], n.trainable_variables)
             for k, n in nets.items()}
    loss, network = wrong
    other = tape.gradient(out[f"{loss}_loss"], nets[network].trainable_variables)
    assert max(float(tf.reduce_max(tf.abs(a - b)))
               for a, b in zip(other, grads[network], strict=True)) > 1e-4
    model.train_on_batch(x)
    for k, n in nets.items():
        for old, g, new in zip(before[k], grads[k], n.trainable_variables, strict=True):
            np.testing.assert_allclose(new.numpy(), old - lr * g.numpy(), atol=atol,
                                       rtol=rtol, err_msg=f"{k} update")


def assert_two_replicas_equal_one(make_model, strategy, x, metrics, atol=2e-5):
    """``make_model()`` (built and compiled inside the strategy scope) fitted on ``x``
    in batches of 4 gives the same weights and ``metrics`` on one device and under
    ``strategy``."""
    weights, logs = [], []
    for s in (tf.distribute.get_strategy(), strategy):
        with s.scope():
            model = make_model()
        history = model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0)
        weights.append([v.numpy() for v in model.trainable_variables])
        logs.append(history.history)
    assert len(weights[0]) == len(weights[1]) > 0
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, atol=atol)
    for key in metrics:
        np.testing.assert_allclose(logs[0][key], logs[1][key], rtol=1e-4, err_msg=key)


def assert_resumes_exactly(model, loaded, x):
    """``loaded`` (a .keras round trip of ``model``) holds the same variables and,
    with the same optimizer state and z sequence, one more step stays identical."""
    for a, b in zip(model.variables, loaded.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.fit(x[:4], batch_size=4, epochs=1, verbose=0)
    loaded.fit(x[:4], batch_size=4, epochs=1, verbose=0)
    for a, b in zip(model.trainable_variables, loaded.trainable_variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def fit_save_load(model, x, path):
    """Fits ``model`` one epoch on ``x`` (batches of 4), saves it to ``path`` (.keras)
    and loads it back; checks the class and config survived and returns the copy."""
    model.fit(x, batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    return loaded

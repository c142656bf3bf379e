"""VAE+BEGAN (Khan et al. 2018): losses by hand, gradient isolation, replicas, resume, export."""

import json
import math
import os
import subprocess
import sys
import textwrap

import gan_checks as checks
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.losses.terms import gaussian_kl
from tfbegan.models import VAEBEGAN

SMALL = dict(image_size=8, channels=1, filters=2, repeats=1, z_dim=2, h_dim=3)


# ---------------------------------------------------------------------- KL term
def test_kl_closed_form_by_hand():
    # dim 1: mu = 1, sigma^2 = 1:  0.5 (1 + 1 - 0 - 1) = 0.5
    # dim 2: mu = 0, sigma^2 = 4:  0.5 (0 + 4 - ln 4 - 1) = 1.5 - ln 2 = 0.806853
    # sample 2: mu = 0, sigma^2 = 1 in both dims: 0.  Batch mean: 1.306853 / 2.
    mu = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    log_var = np.array([[0.0, math.log(4.0)], [0.0, 0.0]], np.float32)
    assert float(gaussian_kl(mu, log_var)) == pytest.approx((2.0 - math.log(2.0)) / 2,
                                                           rel=1e-6)


def test_kl_matches_numerical_integral():
    from scipy import integrate, stats

    mu, sigma = 0.7, 0.4
    p, q = stats.norm(mu, sigma), stats.norm(0.0, 1.0)
    kl, _ = integrate.quad(lambda t: p.pdf(t) * (p.logpdf(t) - q.logpdf(t)), -10, 10)
    got = gaussian_kl(np.array([[mu]], np.float32),
                      np.array([[2 * math.log(sigma)]], np.float32))
    assert float(got) == pytest.approx(kl, rel=1e-5)


# ---------------------------------------------------------------------- losses by hand
def linear_vae_began(**kwargs):
    """VAE+BEGAN with one-Dense networks on 8x8x1 images (weights set by the test),
    swapped in for the built ones (only its losses are computed, never trained)."""
    model = VAEBEGAN(**kwargs)
    z_dim, h_dim = model.z_dim, model.h_dim
    inp = keras.Input((8, 8, 1))
    out = keras.layers.Dense(2 * z_dim, name="e")(keras.layers.Flatten()(inp))
    model.encoder = keras.Model(inp, out, name="vae_encoder")
    inp = keras.Input((z_dim,))
    out = keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64, name="g")(inp))
    model.generator = keras.Model(inp, out, name="generator")
    img = keras.Input((8, 8, 1))
    enc = keras.Model(img, keras.layers.Dense(h_dim, name="de")(
        keras.layers.Flatten()(img)), name="encoder")
    h = keras.Input((h_dim,))
    dec = keras.Model(h, keras.layers.Reshape((8, 8, 1))(
        keras.layers.Dense(64, name="dd")(h)), name="decoder")
    inp = keras.Input((8, 8, 1))
    model.discriminator = keras.Model(inp, dec(enc(inp)), name="discriminator")
    return model


def test_each_loss_on_fixed_linear_networks_by_hand():
    model = linear_vae_began(image_size=8, channels=1, z_dim=1, h_dim=1)
    # E: mu = 0.5, log sigma^2 = ln 4 for every image (zero kernel).
    model.encoder.get_layer("e").set_weights(
        [np.zeros((64, 2)), np.array([0.5, math.log(4.0)])])
    # G: z -> constant image 0.1 z.
    model.generator.get_layer("g").set_weights([np.full((1, 64), 0.1), np.zeros(64)])
    # D_enc: image -> its mean; D_dec: h -> constant image 2 h + 0.2.
    model.discriminator_encoder.get_layer("de").set_weights(
        [np.full((64, 1), 1 / 64), np.zeros(1)])
    model.discriminator_decoder.get_layer("dd").set_weights(
        [np.full((1, 64), 2.0), np.full(64, 0.2)])
    x = np.concatenate([np.full((1, 8, 8, 1), 0.5), np.full((1, 8, 8, 1), -0.5)])
    eps = np.array([[1.0], [-1.0]], np.float32)   # z_v = 0.5 + 2 eps = 2.5, -1.5
    z_g = np.array([[1.0], [0.0]], np.float32)
    out = model.compute_vae_losses(tf.constant(x, tf.float32), eps, z_g,
                                   tf.constant(0.2), training=False)
    # x_v = 0.25, -0.15; x_g = 0.1, 0; z_d = 0.5, -0.5; x'_d = 1.2, -0.8;
    # x'_g = 0.4, 0.2; z'_v = 0.25, -0.15; x'_v = 0.7, -0.1.
    hand = {
        "loss_real": (0.7 + 0.3) / 2,          # |0.5 - 1.2|, |-0.5 + 0.8|
        "loss_fake": (0.3 + 0.2) / 2,          # |0.1 - 0.4|, |0 - 0.2|
        "loss_v": (0.45 + 0.05) / 2,           # |0.25 - 0.7|, |-0.15 + 0.1|
        "recon_l1": (0.25 + 0.35) / 2,           # |0.5 - 0.25|, |-0.5 + 0.15|
        "loss_s": (0.25 + 0.35) / 2,           # |z_d - z'_v|
        "loss_n": 0.5 * (0.25 + 4.0 - math.log(4.0) - 1.0),
    }
    hand["d_loss"] = 0.5 - 0.2 * (0.25 + 0.3 * 0.25)                    # 0.435
    hand["g_loss"] = 0.25 + 0.3 * 0.25 + 0.1 * 0.3 + 0.1 * 0.3           # 0.385
    hand["e_loss"] = hand["loss_n"] + 0.1 * 0.3 + 0.1 * 0.3
    for name, value in hand.items():
        assert float(out[name]) == pytest.approx(value, abs=1e-6), name
    values = {n: out[n] for n in ("loss_real", "loss_fake", "loss_v")}
    # e_t = 0.5 * 0.5 - 0.25 - 0.3 * 0.25 = -0.075
    assert float(model.equilibrium_error(values)) == pytest.approx(-0.075, abs=1e-6)
    model.kl_weight = 0.5
    out = model.compute_vae_losses(tf.constant(x, tf.float32), eps, z_g,
                                   tf.constant(0.2), training=False)
    assert float(out["e_loss"]) == pytest.approx(0.5 * hand["loss_n"] + 0.06, abs=1e-6)


# ---------------------------------------------------------------------- training
_images = checks.images


def test_gradient_isolation_three_optimizers():
    keras.utils.set_random_seed(1)
    model = VAEBEGAN(**SMALL, k_init=0.3, seed=7)
    lr = {"e": 0.1, "g": 0.2, "d": 0.3}
    model.compile(e_optimizer=keras.optimizers.SGD(lr["e"]),
                  g_optimizer=keras.optimizers.SGD(lr["g"]),
                  d_optimizer=keras.optimizers.SGD(lr["d"]))
    x = tf.constant(_images(2))
    nets = {"e": model.encoder, "g": model.generator, "d": model.discriminator}
    losses = {"e": "e_loss", "g": "g_loss", "d": "d_loss"}
    before = {n: [v.numpy() for v in net.trainable_variables] for n, net in nets.items()}
    # The noise of step 0: eps keyed (seed, 1), z_g keyed (seed, 0), global batch 2.
    eps, z_g = model.sample_z(2, 7, 1), model.sample_z(2, 7, 0)
    with tf.GradientTape(persistent=True) as tape:
        out = model.compute_vae_losses(x, eps, z_g, tf.constant(0.3), training=True)
    grads = {n: tape.gradient(out[losses[n]], net.trainable_variables)
             for n, net in nets.items()}
    # The losses really couple the networks: L_gen also depends on E and D, etc.
    assert all(g is not None for g in tape.gradient(out["g_loss"],
                                                    model.encoder.trainable_variables))
    other = tape.gradient(out["g_loss"], model.discriminator.trainable_variables)
    del tape
    model.train_step(x)
    for n, net in nets.items():
        for v, b, g in zip(net.trainable_variables, before[n], grads[n], strict=True):
            np.testing.assert_allclose(v.numpy(), b - lr[n] * g.numpy(), atol=1e-6,
                                       err_msg=f"{n}: {v.path}")
    # D's step is not the gradient of L_gen (which would also be non-zero).
    moved = [v.numpy() - b for v, b in zip(model.discriminator.trainable_variables,
                                           before["d"], strict=True)]
    assert any(np.abs(m + lr["d"] * o.numpy()).max() > 1e-6
               for m, o in zip(moved, other, strict=True) if o is not None)
    # k_1 = clip(0.3 + 1.02e-3 e_1), e_1 = eta L_d - L_g - alpha L_v.
    e1 = 0.5 * float(out["loss_real"]) - float(out["loss_fake"]) - 0.3 * float(out["loss_v"])
    assert float(model.e_prev1) == pytest.approx(e1, abs=1e-6)
    assert float(model.k) == pytest.approx(0.3 + 1.02e-3 * e1, abs=1e-7)


def _train(strategy, init_weights, x, epochs):
    with strategy.scope():
        model = VAEBEGAN(**SMALL, seed=3, pid_gains=(0.05, 0.01, 0.01))
        model.set_weights(init_weights)
        model.compile(**model.make_optimizers(1e-3, 0.5))
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    hist = model.fit(ds, epochs=epochs, verbose=0).history
    return model, hist


def test_two_replicas_equal_one(two_replica_strategy):
    keras.utils.set_random_seed(0)
    init = VAEBEGAN(**SMALL).get_weights()
    x = _images(8)
    one, h1 = _train(tf.distribute.get_strategy(), init, x, 1)
    two, h2 = _train(two_replica_strategy, init, x, 1)
    for a, b in zip(one.get_weights(), two.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5)
    for name in ("k", "e_t", "m_global", "loss_n", "loss_s", "e_loss"):
        np.testing.assert_allclose(h1[name], h2[name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert float(one.k) > 0
    for name in ("k", "e_prev1", "e_prev2"):
        # Every replica holds the single-device value.
        per_replica = [float(v.numpy()) for v in getattr(two, name).value.values]
        assert len(per_replica) == 2
        np.testing.assert_allclose(per_replica, float(getattr(one, name)), atol=1e-6)


def test_metrics_and_convergence_measure():
    keras.utils.set_random_seed(2)
    model = VAEBEGAN(**SMALL)
    model.compile()
    assert model.e_optimizer.learning_rate.numpy() == pytest.approx(5e-5)
    hist = model.fit(_images(4), batch_size=4, epochs=1, verbose=0).history
    assert set(hist) == set(model.metric_names())
    h = {n: v[0] for n, v in hist.items()}
    e = 0.5 * h["loss_real"] - h["loss_fake"] - 0.3 * h["loss_v"]
    assert h["e_t"] == pytest.approx(e, abs=1e-6)
    assert h["m_global"] == pytest.approx(h["loss_real"] + abs(e), abs=1e-6)
    assert h["k"] == pytest.approx(max(0.0, 1.02e-3 * e), abs=1e-8)
    assert h["e_loss"] == pytest.approx(h["loss_n"] + 0.1 * h["loss_s"] + 0.1 * h["recon_l1"],
                                        abs=1e-5)
    assert model.convergence_metric in hist and model.prior == "normal"


def test_keras_round_trip_resumes_exactly(tmp_path):
    keras.utils.set_random_seed(4)
    x = _images(4)

    def make():
        m = VAEBEGAN(**SMALL, alpha=0.2, beta=0.3, gamma=0.4, eta=0.6,
                     pid_gains=(0.05, 0.01, 0.01), seed=5, kl_weight=0.5)
        m.compile(**m.make_optimizers(1e-3, 0.5))
        return m

    straight = make()
    init = straight.get_weights()
    straight.fit(x, batch_size=4, epochs=4, verbose=0)
    first = make()
    first.set_weights(init)
    first.fit(x, batch_size=4, epochs=2, verbose=0)
    path = os.path.join(tmp_path, "vae.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert isinstance(resumed, VAEBEGAN)
    assert (resumed.alpha, resumed.beta, resumed.gamma, resumed.eta,
            resumed.kl_weight) == (0.2, 0.3, 0.4, 0.6, 0.5)
    assert resumed.e_optimizer.iterations.numpy() == 2
    assert float(resumed.e_prev1) == float(first.e_prev1) != 0.0
    resumed.fit(x, batch_size=4, epochs=2, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert float(resumed.k) == pytest.approx(float(straight.k), abs=1e-7)


@pytest.mark.parametrize("kwargs, match", [
    ({"eta": 0.0}, "eta"), ({"eta": 1.5}, "eta"), ({"alpha": -0.1}, "alpha"),
    ({"beta": float("inf")}, "beta"), ({"gamma": "x"}, "gamma"),
    ({"pid_gains": (1, 2)}, "pid_gains"), ({"k_init": 2.0}, "k_init"),
    ({"kl_weight": -1.0}, "kl_weight")])
def test_bad_arguments_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAEBEGAN(**SMALL, **kwargs)


@pytest.mark.parametrize("kwargs", [
    {"controller": "proportional"}, {"lambda_k": 0.01}, {"batch_norm": True},
    {"skip_connections": True}])
def test_began_arguments_it_does_not_use_are_rejected(kwargs):
    # They used to be dropped (controller, lambda_k) or built into the networks and
    # lost on the config round trip (batch_norm, skip_connections).
    (name, value), = kwargs.items()
    with pytest.raises(ValueError, match=f"{name}={value!r}: VAEBEGAN does not take"):
        VAEBEGAN(**SMALL, **kwargs)


def test_registry_flags_and_encode():
    from absl import flags

    from tfbegan.cli import flags_vae_began, variants
    from tfbegan.models import MODELS

    assert MODELS["vae_began"] is VAEBEGAN is VAEBEGAN
    assert variants.VARIANTS["vae_began"] == "tfbegan.cli.flags_vae_began"
    fv = flags.FlagValues()
    flags_vae_began.define_flags(fv)
    fv(["prog", "--vae_eta=0.7", "--vae_pid_gains=0.1,0,0.2"])
    kwargs = flags_vae_began.model_kwargs(fv)
    assert kwargs == {"alpha": 0.3, "beta": 0.1, "gamma": 0.1, "eta": 0.7,
                      "pid_gains": (0.1, 0.0, 0.2), "k_init": 0.0, "kl_weight": 1.0,
                      "kl_scale": "sum", "warmup_steps": 0, "distance": None,
                      "architecture": "began", "augment": ""}
    model = VAEBEGAN(**SMALL, **kwargs)
    assert model.has_encoder
    x = _images(3)
    mu, _ = model.encode_stats(x)
    np.testing.assert_allclose(model.encode(x), mu)
    np.testing.assert_allclose(model.encode(x),
                               model.encoder(x)[:, :2].numpy(), atol=1e-6)


def test_flagfiles_name_defined_flags():
    from absl import flags

    from tfbegan.cli import flags_vae_began

    root = os.path.join(os.path.dirname(__file__), "..", "..", "flags")
    fv = flags.FlagValues()
    flags_vae_began.define_flags(fv)
    for size in (64, 128):
        lines = open(os.path.join(root, f"vae_began_celeba_{size}.flags")).read().splitlines()
        flag_lines = [ln for ln in lines if ln.startswith("--")]
        assert f"--image_size={size}" in flag_lines
        # Every flag line is preceded by a comment (its paper section).
        for i, ln in enumerate(lines):
            if ln.startswith("--"):
                assert any(lines[j].startswith("#") for j in range(max(0, i - 4), i))
        ours = [ln for ln in flag_lines if ln.startswith("--vae_")]
        fv(["prog"] + ours)
        assert flags_vae_began.model_kwargs(fv)["pid_gains"] == (1e-3, 1e-5, 1e-5)


# ---------------------------------------------------------------------- export
def test_export_encode_reloads_without_tfbegan(tmp_path):
    from tfbegan.serving import export

    keras.utils.set_random_seed(5)
    model = VAEBEGAN(**SMALL)
    path = export.export_generator(model, os.path.join(tmp_path, "vae"))
    x = _images(3)
    np.save(os.path.join(tmp_path, "x.npy"), x)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        assert "tfbegan" not in sys.modules
        x = np.load({os.path.join(tmp_path, 'x.npy')!r})
        z = loaded.signatures["encode"](images=tf.constant(x))["z"].numpy()
        img = loaded.signatures["serving_default"](z=tf.constant(z))["images_float"]
        print(json.dumps({{"z": z.tolist(), "img": img.numpy().tolist(),
                          "sigs": sorted(loaded.signatures)}}))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=str(tmp_path), timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "encode" in out["sigs"]
    np.testing.assert_allclose(out["z"], model.encode(x).numpy(), atol=1e-5)
    np.testing.assert_allclose(out["img"], np.clip(model.generate(model.encode(x)), -1, 1),
                               atol=1e-5)


# ---------------------------------------------------------------------- presets' options
def _one_step(model, x):
    model.compile(**{f"{name}_optimizer": keras.optimizers.SGD(0.1)
                     for name, _ in model.optimizer_networks})
    model.fit(x, batch_size=len(x), epochs=1, verbose=0, shuffle=False)
    return model


def test_kl_scale_per_pixel_divides_the_kl_by_the_pixel_count():
    # Eq. 2's L_e is a mean over the |x| pixel values; "per_pixel" puts L_n on that
    # scale (the negative ELBO divided by |x|), "sum" is Eq. 3 as printed.
    x = tf.constant(_images(3))
    eps, z_g = tf.zeros((3, 2)), tf.zeros((3, 2))
    losses = {}
    for scale in ("sum", "per_pixel"):
        keras.utils.set_random_seed(3)
        model = VAEBEGAN(**SMALL, seed=1, kl_scale=scale)
        losses[scale] = float(model.compute_vae_losses(x, eps, z_g, 0.0, False)["loss_n"])
    assert losses["sum"] > 0
    assert losses["per_pixel"] == pytest.approx(losses["sum"] / 64, rel=1e-6)
    with pytest.raises(ValueError, match="kl_scale"):
        VAEBEGAN(**SMALL, kl_scale="mean")


def test_warmup_trains_generator_without_the_discriminator_reconstructions():
    # During the VAE warm-up G's loss is beta L_s + gamma L_e only; with beta = 0 its
    # update cannot depend on D's decoder. After the warm-up it does again.
    x = tf.constant(_images(4))

    def g_after_one_step(warmup, scale_decoder):
        keras.utils.set_random_seed(7)
        model = VAEBEGAN(**SMALL, beta=0.0, gamma=1.0, seed=2, warmup_steps=warmup)
        if scale_decoder:
            for v in model.discriminator_decoder.trainable_variables:
                v.assign(v * 3.0 + 0.1)
        return [w.numpy() for w in _one_step(model, x).generator.trainable_variables]

    for a, b in zip(g_after_one_step(5, False), g_after_one_step(5, True), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    differ = [not np.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in
              zip(g_after_one_step(0, False), g_after_one_step(0, True), strict=True)]
    assert any(differ)
    with pytest.raises(ValueError, match="warmup_steps"):
        VAEBEGAN(**SMALL, warmup_steps=-1)


def test_preset_options_round_trip(tmp_path):
    model = VAEBEGAN(**SMALL, kl_scale="per_pixel", warmup_steps=300)
    model.compile(**model.make_optimizers())
    path = os.path.join(tmp_path, "vae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert (loaded.kl_scale, loaded.warmup_steps) == ("per_pixel", 300)

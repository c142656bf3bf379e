"""The PID k_t controller of Khan et al. 2018 (Eq. 12) by hand, and plain BEGAN with it."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.checks import DEFAULT_PID_GAINS
from tfbegan.losses import equilibrium
from tfbegan.models import BEGAN

GAINS = (0.1, 0.01, 0.001)
# e_t and k_t by hand, k_0 = 0, e_{-1} = e_{-2} = 0, gains (0.1, 0.01, 0.001):
#  t  e_t   e_{t-1} e_{t-2}  l1 e      l2 (e - e1)   l3 (e + e2 - 2 e1)   k_t
#  1   1     0       0       0.1       0.01          0.001      -> 0.111
#  2   2     1       0       0.2       0.01          0.0        -> 0.321
#  3  -1     2       1      -0.1      -0.03         -0.004      -> 0.187
#  4  -5    -1       2      -0.5      -0.04         -0.001      -> -0.354 -> clip 0
#  5  20    -5      -1       2.0       0.25          0.029      -> 2.279 -> clip 1
#  6   0.5  20      -5       0.05     -0.195        -0.0445     -> 0.8105
ERRORS = [1.0, 2.0, -1.0, -5.0, 20.0, 0.5]
EXPECTED_K = [0.111, 0.321, 0.187, 0.0, 1.0, 0.8105]


def _run_pure(as_tensor):
    k, e1, e2, ks = 0.0, 0.0, 0.0, []
    for e in ERRORS:
        if as_tensor:
            k, e, e1, e2 = (tf.constant(v, tf.float32) for v in (k, e, e1, e2))
        k = equilibrium.pid_update(k, e, e1, e2, GAINS)
        e2, e1 = e1, e
        ks.append(float(k))
    return ks


@pytest.mark.parametrize("as_tensor", [False, True])
def test_pid_update_hand_sequence_with_both_clips(as_tensor):
    np.testing.assert_allclose(_run_pure(as_tensor), EXPECTED_K, atol=1e-6)


def test_pid_update_default_gains_are_the_papers():
    assert DEFAULT_PID_GAINS == (1e-3, 1e-5, 1e-5)
    # One step from rest: (l1 + l2 + l3) e = 1.02e-3 * 2.
    assert equilibrium.pid_update(0.5, 2.0, 0.0, 0.0) == pytest.approx(0.5 + 2.04e-3)


def test_vae_began_error_sign_and_convergence_by_hand():
    # eta L_d - L_g - alpha L_v = 0.5*0.8 - 0.1 - 0.3*0.2 = 0.24
    assert equilibrium.vae_began_error(0.8, 0.1, 0.2, 0.5, 0.3) == pytest.approx(0.24)
    # 0.5*0.2 - 0.3 - 0.3*0.5 = -0.35; L_d + |e| = 0.55
    assert equilibrium.vae_began_convergence(0.2, 0.3, 0.5, 0.5, 0.3) == pytest.approx(0.55)


@pytest.mark.parametrize("gains", [(1e-3, 1e-5), (1e-3, -1e-5, 0.0), ("a", 0, 0),
                                   (float("nan"), 0, 0), 0.1])
def test_bad_gains_rejected(gains):
    with pytest.raises(ValueError, match="pid_gains"):
        BEGAN(image_size=8, channels=1, filters=2, z_dim=2, h_dim=2,
                      controller="pid", pid_gains=gains)


def _tiny_began(**kwargs):
    return BEGAN(image_size=8, channels=1, filters=2, z_dim=2, h_dim=2, **kwargs)


def test_model_pid_step_matches_hand_sequence_and_resumes_from_keras(tmp_path):
    model = _tiny_began(controller="pid", pid_gains=GAINS)
    assert float(model.e_prev1) == 0.0 and float(model.e_prev2) == 0.0
    ks = []
    for e in ERRORS[:3]:
        out = model.pid_step(tf.convert_to_tensor(model.k), tf.constant(e))
        assert float(out["e_t"]) == e
        ks.append(float(model.k))
    np.testing.assert_allclose(ks, EXPECTED_K[:3], atol=1e-6)
    assert (float(model.e_prev1), float(model.e_prev2)) == (-1.0, 2.0)

    path = os.path.join(tmp_path, "mid.keras")
    model.save(path)
    resumed = keras.saving.load_model(path)
    assert resumed.controller == "pid" and resumed.pid_gains == GAINS
    assert (float(resumed.e_prev1), float(resumed.e_prev2)) == (-1.0, 2.0)
    for e in ERRORS[3:]:
        resumed.pid_step(tf.convert_to_tensor(resumed.k), tf.constant(e))
        ks.append(float(resumed.k))
    np.testing.assert_allclose(ks, EXPECTED_K, atol=1e-6)


def test_proportional_path_unchanged():
    model = _tiny_began()
    assert not hasattr(model, "e_prev1")
    assert "e_t" not in model.metric_names()
    assert model.get_config()["pid_gains"] == list(DEFAULT_PID_GAINS)
    out = model.update_k(tf.constant(0.1), {"loss_real": tf.constant(0.8),
                                            "loss_fake": tf.constant(0.1)})
    assert out == {}
    # 0.1 + 0.001 * (0.5 * 0.8 - 0.1) = 0.1003
    assert float(model.k) == pytest.approx(0.1003, abs=1e-7)


def test_plain_began_with_pid_trains_and_reports_e_t():
    keras.utils.set_random_seed(3)
    gains = (0.05, 0.02, 0.01)
    model = _tiny_began(controller="pid", pid_gains=gains, gamma=0.7)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    x = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    hist = model.fit(x, batch_size=4, epochs=3, verbose=0).history
    e = hist["e_t"]
    # One step per epoch: the reported e_t is that step's gamma L(x) - L(G(z)).
    for t in range(3):
        assert e[t] == pytest.approx(0.7 * hist["loss_real"][t] - hist["loss_fake"][t],
                                     abs=1e-6)
    k, e1, e2 = 0.0, 0.0, 0.0
    for t in range(3):
        k = min(max(k + gains[0] * e[t] + gains[1] * (e[t] - e1)
                    + gains[2] * (e[t] + e2 - 2 * e1), 0.0), 1.0)
        e2, e1 = e1, e[t]
        assert hist["k"][t] == pytest.approx(k, abs=1e-6)
    assert float(model.e_prev1) == pytest.approx(e[2], abs=1e-6)
    assert float(model.e_prev2) == pytest.approx(e[1], abs=1e-6)
    ev = model.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    assert ev["e_t"] == pytest.approx(0.7 * ev["loss_real"] - ev["loss_fake"], abs=1e-6)

"""The proportional k_t controller and M_global (Berthelot et al. 2017, sec. 3.4) by hand."""

import numpy as np
import pytest
import tensorflow as tf

from tfbegan.losses import equilibrium
from tfbegan.models.config import ModelConfig

# (L(x), L(G(z)), k after the step), gamma = 0.5, lambda_k = 0.1, k_0 = 0:
#   0 + 0.1 * (0.5*0.8 - 0.1) = 0.03
#   0.03 + 0.1 * (0.5*0.6 - 0.5) = 0.03 - 0.02 = 0.01
#   0.01 + 0.1 * (0.5*0.4 - 0.6) = 0.01 - 0.04 = -0.03 -> clipped to 0
#   0 + 0.1 * (0.5*1.0 - 0.2) = 0.03   (restarts from 0, not from -0.03)
SEQUENCE_LOW = [(0.8, 0.1, 0.03), (0.6, 0.5, 0.01), (0.4, 0.6, 0.0), (1.0, 0.2, 0.03)]

# gamma = 0.5, lambda_k = 1, k_0 = 0.9:
#   0.9 + (0.5*1.0 - 0.2) = 1.2 -> clipped to 1
#   1.0 + (0.5*0.2 - 0.3) = 0.8
#   0.8 + (0.5*0.8 - 0.1) = 1.1 -> clipped to 1
SEQUENCE_HIGH = [(1.0, 0.2, 1.0), (0.2, 0.3, 0.8), (0.8, 0.1, 1.0)]


def _run(k, sequence, gamma, lambda_k, to_tensor):
    ks = []
    for loss_real, loss_fake, _ in sequence:
        if to_tensor:
            k = tf.constant(k, tf.float32) if not tf.is_tensor(k) else k
            loss_real, loss_fake = tf.constant(loss_real), tf.constant(loss_fake)
        k = equilibrium.proportional_update(k, loss_real, loss_fake, gamma, lambda_k)
        ks.append(float(k))
    return ks


@pytest.mark.parametrize("to_tensor", [False, True])
def test_proportional_sequence_with_clip_at_zero(to_tensor):
    ks = _run(0.0, SEQUENCE_LOW, 0.5, 0.1, to_tensor)
    np.testing.assert_allclose(ks, [s[2] for s in SEQUENCE_LOW], atol=1e-7)


@pytest.mark.parametrize("to_tensor", [False, True])
def test_proportional_sequence_with_clip_at_one(to_tensor):
    ks = _run(0.9, SEQUENCE_HIGH, 0.5, 1.0, to_tensor)
    np.testing.assert_allclose(ks, [s[2] for s in SEQUENCE_HIGH], atol=1e-6)


def test_balance_by_hand():
    assert equilibrium.balance(0.8, 0.1, 0.5) == pytest.approx(0.3)
    assert equilibrium.balance(0.4, 0.6, 0.5) == pytest.approx(-0.4)


def test_lambda_k_zero_freezes_k():
    assert equilibrium.proportional_update(0.25, 0.9, 0.1, 0.5, 0.0) == 0.25


def test_gamma_zero_with_k_zero_never_moves_k_and_is_rejected():
    # A known critique of BEGAN (k_t needs a projection onto [0, 1]): gamma = 0 gives
    # k += -lambda_k * L(G(z)) <= 0, and the clip
    # returns 0 at every step, whatever the losses.
    k = 0.0
    for loss_real, loss_fake in [(0.9, 0.1), (0.5, 0.5), (0.1, 0.9), (1.0, 1e-6)]:
        k = equilibrium.proportional_update(k, loss_real, loss_fake, 0.0, 0.5)
        assert k == 0.0
    with pytest.raises(ValueError, match=r"gamma=0.*k_init=0"):
        ModelConfig(gamma=0.0, k_init=0.0)
    # A nonzero k_0 (or gamma) is allowed: k decays from k_0 by lambda_k * L(G(z)).
    assert ModelConfig(gamma=0.0, k_init=0.5).k_init == 0.5
    assert equilibrium.proportional_update(0.5, 0.9, 0.2, 0.0, 0.5) == pytest.approx(0.4)


@pytest.mark.parametrize("loss_real, loss_fake, gamma, expected", [
    (0.3, 0.2, 0.5, 0.35),   # 0.3 + |0.15 - 0.2|
    (0.3, 0.1, 0.5, 0.35),   # 0.3 + |0.15 - 0.1|
    (0.4, 0.1, 1.0, 0.7),    # 0.4 + |0.4 - 0.1|
    (0.2, 0.05, 0.25, 0.2),  # 0.2 + |0.05 - 0.05|: at equilibrium M = L(x)
    (0.5, 0.3, 0.0, 0.8),    # 0.5 + |0 - 0.3|
])
def test_m_global_by_hand(loss_real, loss_fake, gamma, expected):
    assert equilibrium.m_global(loss_real, loss_fake, gamma) == pytest.approx(expected)
    got = equilibrium.m_global(tf.constant(loss_real), tf.constant(loss_fake), gamma)
    assert float(got) == pytest.approx(expected, abs=1e-6)

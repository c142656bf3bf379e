"""The k_t controllers and convergence measures of BEGAN (Berthelot et al. 2017, sec. 3.4).

All functions are pure: they take the current values and return the new ones, and
work on Python floats, NumPy values or tensors alike.
"""

from __future__ import annotations

import tensorflow as tf

# The controllers' names and the PID gains' default live in tfbegan.checks
# (CONTROLLERS, DEFAULT_PID_GAINS), which the CLI reads without loading TensorFlow.
from tfbegan.checks import DEFAULT_PID_GAINS


def balance(loss_real, loss_fake, gamma):
    """The equilibrium error ``gamma * L(x) - L(G(z))`` (sec. 3.4)."""
    return gamma * loss_real - loss_fake


def proportional_update(k, loss_real, loss_fake, gamma, lambda_k):
    """``k_{t+1} = clip(k_t + lambda_k * (gamma L(x) - L(G(z))), 0, 1)``.

    The clip keeps k in [0, 1] as the paper states (sec. 3.4) and the
    critiques of BEGAN require; unclipped, k runs negative and D starts *helping* G.
    """
    k_new = k + lambda_k * balance(loss_real, loss_fake, gamma)
    if isinstance(k_new, (tf.Tensor, tf.Variable)):
        return tf.clip_by_value(k_new, 0.0, 1.0)
    return min(max(float(k_new), 0.0), 1.0)


def m_global(loss_real, loss_fake, gamma):
    """Convergence measure ``M_global = L(x) + |gamma L(x) - L(G(z))|`` (sec. 3.4.2)."""
    return loss_real + abs(balance(loss_real, loss_fake, gamma))


def _clip01(value):
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return tf.clip_by_value(value, 0.0, 1.0)
    return min(max(float(value), 0.0), 1.0)


def vae_began_error(loss_d, loss_g, loss_v, eta, alpha):
    """VAE+BEGAN's equilibrium error ``e_t = eta L_d - L_g - alpha L_v``.

    Khan et al. 2018, Eq. 11 as printed reads ``... - L_g + alpha L_v``; Eq. 10
    (``eta = (E[L_g] + alpha E[L_v]) / E[L_d]``) and the convergence measure
    ``L_d + |eta L_d - L_g - alpha L_v|`` both need the minus sign, so the printed
    plus is a typo.
    """
    return eta * loss_d - loss_g - alpha * loss_v


def pid_update(k, e_t, e_prev1, e_prev2, gains=DEFAULT_PID_GAINS):
    """PID-style k update of Khan et al. 2018 (Eq. 12), with the [0, 1] clip.

    ``k_t = clip(k_{t-1} + l1 e_t + l2 (e_t - e_{t-1}) + l3 (e_t + e_{t-2} - 2 e_{t-1}),
    0, 1)``

    This is the incremental ("velocity") form of a PID controller: ``l1`` multiplies
    the error itself, so summed over steps it is the integral term; ``l2`` the first
    difference (proportional term); ``l3`` the second difference (derivative term).
    The caller then shifts its state: ``e_{t-2} <- e_{t-1}``, ``e_{t-1} <- e_t``.
    Before the first step both past errors are 0.

    Args:
      k: k_{t-1}. e_t: this step's error. e_prev1, e_prev2: e_{t-1}, e_{t-2}.
      gains: (l1, l2, l3); Khan et al. 2018 sec. 4 uses (1e-3, 1e-5, 1e-5).

    Returns:
      k_t, a tensor if any input is one, else a float.
    """
    l1, l2, l3 = gains
    k_new = (k + l1 * e_t + l2 * (e_t - e_prev1)
             + l3 * (e_t + e_prev2 - 2.0 * e_prev1))
    return _clip01(k_new)


def vae_began_convergence(loss_d, loss_g, loss_v, eta, alpha):
    """Khan et al. 2018's convergence measure ``L_d + |eta L_d - L_g - alpha L_v|`` (sec. 3.4)."""
    return loss_d + abs(vae_began_error(loss_d, loss_g, loss_v, eta, alpha))

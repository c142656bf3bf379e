"""The k_t controllers and convergence measures of BEGAN (paper 001, sec. 3.4).

All functions are pure: they take the current values and return the new ones, and
work on Python floats, NumPy values or tensors alike.
"""

from __future__ import annotations

import tensorflow as tf

#: k_t controllers a BEGAN can use.
CONTROLLERS = ("proportional",)


def balance(loss_real, loss_fake, gamma):
    """The equilibrium error ``gamma * L(x) - L(G(z))`` (sec. 3.4)."""
    return gamma * loss_real - loss_fake


def proportional_update(k, loss_real, loss_fake, gamma, lambda_k):
    """``k_{t+1} = clip(k_t + lambda_k * (gamma L(x) - L(G(z))), 0, 1)``.

    The clip keeps k in [0, 1] as the paper states (sec. 3.4) and seed 002's
    critique requires; unclipped, k runs negative and D starts *helping* G.
    """
    k_new = k + lambda_k * balance(loss_real, loss_fake, gamma)
    if isinstance(k_new, (tf.Tensor, tf.Variable)):
        return tf.clip_by_value(k_new, 0.0, 1.0)
    return min(max(float(k_new), 0.0), 1.0)


def m_global(loss_real, loss_fake, gamma):
    """Convergence measure ``M_global = L(x) + |gamma L(x) - L(G(z))|`` (sec. 3.4.2)."""
    return loss_real + abs(balance(loss_real, loss_fake, gamma))

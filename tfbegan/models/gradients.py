"""One backward pass through the discriminator on generated images, for two networks.

In BEGAN (Berthelot et al. 2017, sec. 3.3) ``L_D = L(x) - k L(G(z))`` and
``L_G = L(G(z))``: on the generated batch D's loss is ``-k`` times G's. One backward
pass of ``L(G(z))`` through D therefore gives both what D needs (its weight gradient,
scaled by ``-k``) and what G needs (the gradient with respect to ``G(z)``, carried on
through G with ``output_gradients``). Taking ``tape.gradient`` of L_D and of L_G
separately walks backward through D on ``G(z)`` twice. The maths is unchanged: D still
gets only the gradient of L_D, G only that of L_G (footnote 2).

Loss scaling (float16): each optimizer has its own dynamic scale S. The shared pass
differentiates ``S_G * L(G(z)) / n``; D's part is rescaled by the exact power of two
``S_D / S_G``. A step whose shared pass overflows is then skipped by both optimizers
(each sees a non-finite gradient and halves its scale), where before only G's was.
"""

from __future__ import annotations

import tensorflow as tf


def loss_scale_ratio(numerator_optimizer, denominator_optimizer):
    """``S_num / S_den`` of two optimizers' loss scales (1 without float16 scaling)."""
    one = tf.constant(1.0, tf.float32)
    return numerator_optimizer.scale_loss(one) / denominator_optimizer.scale_loss(one)


def add_scaled(grads, others, coefficient):
    """``g + coefficient * o`` elementwise over two gradient lists (None counts as 0)."""
    out = []
    for g, o in zip(grads, others, strict=True):
        if o is None:
            out.append(g)
            continue
        o = tf.cast(coefficient, o.dtype) * o
        out.append(o if g is None else g + o)
    return out


def shared_fake_backward(tape, shared_loss, d_vars, fakes):
    """One backward pass of ``shared_loss`` through D to D's weights and to ``fakes``.

    Returns ``(weight_grads, fake_grads)``: the gradients with respect to ``d_vars``
    and to each generated tensor in ``fakes`` (the cotangents G continues with).
    """
    grads = tape.gradient(shared_loss, list(d_vars) + list(fakes))
    return grads[:len(d_vars)], grads[len(d_vars):]


def backward_through(tape, outputs, output_grads, variables, extra_losses=()):
    """Gradient w.r.t. ``variables`` of ``sum <outputs_i, output_grads_i>`` plus
    ``extra_losses`` (losses that reach ``variables`` other than through ``outputs``),
    in one backward pass: how G's gradient continues from the shared D pass."""
    targets = list(outputs) + list(extra_losses)
    cotangents = list(output_grads) + [tf.ones_like(loss) for loss in extra_losses]
    return tape.gradient(targets, variables, output_gradients=cotangents)


def began_gradients(tape, d_real_scaled, g_shared_scaled, k_ratio, d_vars, g_vars, fakes,
                    g_extra_scaled=()):
    """D's and G's gradients of BEGAN's step with one backward pass through D on ``fakes``.

    Args:
      tape: a persistent tape that recorded the step's forward pass.
      d_real_scaled: D's loss terms that do not involve the generated images
        (``L(x)`` and any extra D terms), scaled as D's optimizer wants.
      g_shared_scaled: ``L(G(z))`` scaled as G's optimizer wants; D's loss contains it
        with the factor ``-k * S_D / S_G`` = ``k_ratio``.
      k_ratio: the factor D's gradient takes from the shared pass, ``-k S_D / S_G``.
      d_vars, g_vars: the networks' trainable variables.
      fakes: the generated tensors D was applied to (``[G(z)]``).
      g_extra_scaled: G's loss terms that do not go through D (scaled).

    Returns ``(d_grads, g_grads)``.
    """
    d_fake, fake_grads = shared_fake_backward(tape, g_shared_scaled, d_vars, fakes)
    d_grads = add_scaled(tape.gradient(d_real_scaled, d_vars), d_fake, k_ratio)
    g_grads = backward_through(tape, fakes, fake_grads, g_vars, g_extra_scaled)
    return d_grads, g_grads

"""BiGAN: Bidirectional GAN (Donahue, Kraehenbuehl, Darrell 2017)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfbegan.checks import check_bool, check_range
from tfbegan.models.base import all_mean, replica_context
from tfbegan.models.config import ModelConfig
from tfbegan.models.encoder_gan import (
    EncoderGANBase,
)
from tfbegan.models.gradients import (
    add_scaled,
    backward_through,
    loss_scale_ratio,
    shared_fake_backward,
)
from tfbegan.networks.began import build_encoder, build_generator, image_input
from tfbegan.networks.encoders import build_dcgan_joint_discriminator, build_encoder_body


def bigan_losses(logits_real, logits_fake, non_saturating=True):
    """Losses of the BiGAN game (Donahue et al. 2017) from discriminator logits.

    With ``D = sigmoid(logit)``, ``logits_real = D-logit(x, E(x))`` and
    ``logits_fake = D-logit(G(z), z)``:

    * value ``V = mean log D(x, E(x)) + mean log(1 - D(G(z), z))``;
    * ``d_loss = -V = mean softplus(-logits_real) + mean softplus(logits_fake)``
      (D maximises V);
    * minimax (Eq. 2 as printed): G and E minimise V, split into the term each one
      can change: ``g_loss = mean log(1 - D(G(z), z)) = -mean softplus(logits_fake)``,
      ``e_loss = mean log D(x, E(x)) = -mean softplus(-logits_real)``;
    * non-saturating (labels swapped, BiGAN paper sec. 3.4; Goodfellow et al. 2014
      sec. 3): ``g_loss = -mean log D(G(z), z) = mean softplus(-logits_fake)``,
      ``e_loss = -mean log(1 - D(x, E(x))) = mean softplus(logits_real)``. Same
      fixed points, strong gradients while D wins.

    Returns a dict of scalars ``d_loss, g_loss, e_loss, value, d_real, d_fake``
    (``d_real`` / ``d_fake`` are the mean probabilities D assigns to "encoder pair").
    """
    logits_real = tf.cast(logits_real, tf.float32)
    logits_fake = tf.cast(logits_fake, tf.float32)
    log_d_real = -tf.reduce_mean(tf.nn.softplus(-logits_real))       # E log D(x, E(x))
    log_1m_d_fake = -tf.reduce_mean(tf.nn.softplus(logits_fake))     # E log(1 - D(G(z), z))
    value = log_d_real + log_1m_d_fake
    if non_saturating:
        g_loss = tf.reduce_mean(tf.nn.softplus(-logits_fake))
        e_loss = tf.reduce_mean(tf.nn.softplus(logits_real))
    else:
        g_loss = log_1m_d_fake
        e_loss = log_d_real
    return {"d_loss": -value, "g_loss": g_loss, "e_loss": e_loss, "value": value,
            "d_real": tf.reduce_mean(tf.sigmoid(logits_real)),
            "d_fake": tf.reduce_mean(tf.sigmoid(logits_fake))}


def build_bigan_encoder(config: ModelConfig, name: str = "encoder",
                        linear: bool = False) -> keras.Model:
    """E: image -> z in (-1, 1)^N_z: the BEGAN encoder (Dense to N_z; with
    ``architecture="dcgan"`` the DCGAN-style one of ``tfbegan.networks.encoders``)
    and a tanh.

    The tanh keeps E(x) inside the support of the U[-1, 1] prior; otherwise D could
    tell the pairs apart from ``|z| > 1`` alone. ``linear=True`` (the normal prior,
    whose support is unbounded) leaves the Dense output as it is.
    """
    base = build_encoder_body(config, config.z_dim, name=f"{name}_net")
    inputs = image_input(config)
    activation = "linear" if linear else "tanh"
    z = keras.layers.Activation(activation, name=f"{name}_{activation}",
                                dtype="float32")(base(inputs))
    return keras.Model(inputs, z, name=name)


def build_joint_discriminator(config: ModelConfig, units: int,
                              name: str = "discriminator",
                              dropout: float = 0.0) -> keras.Model:
    """D(x, z) -> logit: the BEGAN encoder's conv stack on x (to an N_h feature),
    concatenated with z, one Dense(units) + ELU and a Dense(1) logit.

    ``dropout > 0`` adds Dropout(rate) on the concatenated (x, z) feature and on the
    hidden layer (layers ``{name}_drop_in``, ``{name}_drop_joint``), as ALI-style
    discriminators use; 0 builds no Dropout layer. ``architecture="dcgan"``:
    :func:`tfbegan.networks.encoders.build_dcgan_joint_discriminator`."""
    if config.architecture == "dcgan":
        return build_dcgan_joint_discriminator(config, units, name=name, dropout=dropout)
    image_branch = build_encoder(config, name=f"{name}_image")
    images = image_input(config)
    z = keras.Input((config.z_dim,), name="z")
    h = keras.layers.Concatenate(name=f"{name}_concat")([image_branch(images), z])
    if dropout > 0:
        h = keras.layers.Dropout(dropout, name=f"{name}_drop_in")(h)
    h = keras.layers.Dense(units, activation="elu", name=f"{name}_joint")(h)
    if dropout > 0:
        h = keras.layers.Dropout(dropout, name=f"{name}_drop_joint")(h)
    logit = keras.layers.Dense(1, name=f"{name}_logit", dtype="float32")(h)
    logit = keras.layers.Reshape((), name=f"{name}_squeeze")(logit)
    return keras.Model([images, z], logit, name=name)


@keras.saving.register_keras_serializable(package="tfbegan")
class BiGAN(EncoderGANBase):
    """Bidirectional GAN: generator G(z), encoder E(x), joint discriminator D(x, z).

    The game of Donahue et al. 2017, Eq. 1:
    ``min_{G,E} max_D V = E_x log D(x, E(x)) + E_z log(1 - D(G(z), z))``.
    One forward pass per step gives D's loss ``-V`` and the G / E losses of
    :func:`bigan_losses` (non-saturating by default, the printed minimax with
    ``non_saturating=False``); each of the three optimizers is applied to the
    gradient of its own loss w.r.t. its own network only (in the minimax game from
    one backward pass through D, :meth:`_apply_minimax`).

    Prior: z ~ U[-1, 1]^N_z, the prior of the slides' notation (and of the BiGAN
    paper's experiments); E ends in a tanh to stay in that support.

    Networks: G is the BEGAN generator; E is the BEGAN encoder with a Dense to N_z;
    D runs the BEGAN encoder conv stack on x (to an N_h feature), concatenates z and
    applies Dense(``d_units``) + ELU and a logit. ``architecture="dcgan"``: the
    DCGAN-style networks of :mod:`tfbegan.networks.encoders`.

    Distribution: z is drawn for the global batch (stateless in (seed, step)) and
    sliced per replica; per-replica means are divided by the replica count before
    the optimizers' cross-replica sum; metrics are all-reduced. N replicas give the
    same update as one device with the global batch.

    Metrics: ``d_loss, g_loss, e_loss, d_real, d_fake`` and ``recon_l1`` =
    ``mean |x - G(E(x))|`` (the convergence metric).

    Args:
      image_size, channels, filters, repeats, z_dim, h_dim, seed: the BEGAN backbone
        (see :class:`tfbegan.BEGAN`); h_dim is the width of D's image feature.
      d_units: width of D's joint hidden layer.
      non_saturating: use the non-saturating G / E losses (default) instead of the
        minimax ones.
      d_dropout: dropout rate in D's joint layers, in [0, 1); 0 (default) = none.
        Not in Donahue et al. 2017; common in ALI-style discriminators.
      batch_norm: batch norm in G's, E's and D's image blocks (conv -> batch norm
        -> ELU, Li et al. 2018's option); off by default. With the DCGAN-style
        networks it adds batch norm to E only; there it keeps E's tanh from
        saturating on the embedded digits (docs/models.md).
      cycle_weight: weight lambda >= 0 of ALICE's explicit cycle-consistency term
        (Li et al. 2017, "ALICE: Towards Understanding Adversarial Learning for
        Joint Distribution Matching"): ``lambda * mean |x - G(E(x))|`` is added to
        both G's and E's loss. The joint D of BiGAN/ALI can be fooled by pairs
        whose x and z are unrelated (the game's optimum is not identifiable from
        finite training); ALICE bounds the conditional entropy H(x|z) by this
        reconstruction error, which ties E(x) to the G that drew x. 0 (default) is
        Donahue et al. 2017's game. D's loss never contains it.
      prior: ``"uniform"`` (default: z ~ U[-1, 1], E ends in a tanh) or ``"normal"``
        (z ~ N(0, I), E linear). Not in Donahue et al. 2017's MNIST setting: on the
        embedded digits E's tanh saturates (90 % of E(x)'s coordinates beyond 0.99
        after 2,000 steps, every G(E(x)) the same image) and its gradient vanishes;
        a linear E has no saturating output.

    Example:

    ```python
    model = BiGAN(image_size=32, channels=1, filters=16, z_dim=32, h_dim=32)
    model.compile(**model.make_optimizers(2e-4, 0.5))
    model.fit(images_in_minus1_1, epochs=1, steps_per_epoch=100)
    z = model.encode(images)            # E(x)
    x_rec = model.generate(z)           # G(E(x))
    ```

    Reference: https://arxiv.org/abs/1605.09782
    """

    optimizer_networks = (("d", "discriminator"), ("g", "generator"), ("e", "encoder"))

    def __init__(self, image_size=32, channels=3, filters=64, repeats=2, z_dim=64,
                 h_dim=64, seed=0, d_units=256, non_saturating=True, d_dropout=0.0,
                 prior="uniform", cycle_weight=0.0, **kwargs):
        if isinstance(d_units, bool) or not isinstance(d_units, int) or not (
                1 <= d_units <= 65536):
            raise ValueError(f"d_units={d_units!r} is out of range; allowed: an "
                             f"integer in [1, 65536].")
        check_bool("non_saturating", non_saturating)
        check_range("d_dropout", d_dropout, 0.0, 1.0, high_open=True)
        check_range("cycle_weight", cycle_weight, 0.0, 1e4)
        if prior not in ("uniform", "normal"):
            raise ValueError(f"prior={prior!r}; allowed: uniform, normal.")
        super().__init__(image_size=image_size, channels=channels, filters=filters,
                         repeats=repeats, z_dim=z_dim, h_dim=h_dim, seed=seed, **kwargs)
        self.d_units = d_units
        self.non_saturating = non_saturating
        self.d_dropout = float(d_dropout)
        self.prior = prior
        self.cycle_weight = float(cycle_weight)
        config = self.model_config
        self.generator = build_generator(config)
        self.encoder = build_bigan_encoder(config, linear=prior == "normal")
        self.discriminator = build_joint_discriminator(config, d_units,
                                                       dropout=self.d_dropout)
        self.finish_init()

    def compile(self, d_optimizer=None, g_optimizer=None, e_optimizer=None, **kwargs):
        """One optimizer per network (Adam(2e-4, beta1=0.5) each by default)."""
        self.compile_networks({"d": d_optimizer, "g": g_optimizer, "e": e_optimizer},
                               kwargs)

    def metric_names(self):
        return ("d_loss", "g_loss", "e_loss", "d_real", "d_fake", "recon_l1")

    def get_config(self):
        config = super().get_config()
        config.update(d_units=self.d_units, non_saturating=self.non_saturating,
                      d_dropout=self.d_dropout, prior=self.prior,
                      cycle_weight=self.cycle_weight)
        return config

    def compute_losses(self, x, z, training):
        """One forward pass: D on (x, E(x)) and (G(z), z), then :func:`bigan_losses`.

        Returns the loss dict plus ``fake`` = G(z) and ``z_real`` = E(x); with
        ``cycle_weight > 0`` also ``cycle`` = ``cycle_weight * mean |x - G(E(x))|``,
        already added to ``g_loss`` and ``e_loss`` (ALICE, Li et al. 2017).
        """
        z_real = self.encoder(x, training=training)
        fake = self.generator(z, training=training)
        logits_real = self.discriminator([x, z_real], training=training)
        logits_fake = self.discriminator([fake, z], training=training)
        out = bigan_losses(logits_real, logits_fake, self.non_saturating)
        out.update(fake=fake, z_real=z_real)
        if self.cycle_weight > 0:
            out["cycle"] = self.cycle_weight * self._cycle_l1(x, z_real, training)
            out["g_loss"] += out["cycle"]
            out["e_loss"] += out["cycle"]
        return out

    def _cycle_l1(self, x, z_real, training):
        """``mean |x - G(E(x))|`` with gradients to both G and E (ALICE's l1 cycle)."""
        rec = tf.cast(self.generator(z_real, training=training), tf.float32)
        return tf.reduce_mean(tf.abs(tf.cast(x, tf.float32) - rec))

    def _recon_l1(self, x, z_real):
        return tf.reduce_mean(tf.abs(x - self.generator(z_real, training=False)))

    def train_step(self, data):
        self.require_compiled()
        x = self.check_images(data)
        ctx = replica_context()
        n_rep = ctx.num_replicas_in_sync
        z = self.global_z(tf.shape(x)[0], ctx, self.step_counter())
        with tf.GradientTape(persistent=True) as tape:
            out = self.compute_losses(x, z, training=True)
            if self.non_saturating:
                scaled = {k: getattr(self, f"{k}_optimizer").scale_loss(
                    out[f"{k}_loss"] / n_rep) for k in ("d", "g", "e")}
            else:
                scaled = self.g_optimizer.scale_loss(out["value"] / n_rep)
                # The cycle term is G's and E's only; each network's share, scaled
                # for its own optimizer, joins its pass through D below.
                cycle = {k: [getattr(self, f"{k}_optimizer").scale_loss(
                    out["cycle"] / n_rep)] if "cycle" in out else [] for k in ("g", "e")}
        if self.non_saturating:
            self.apply_own_gradients(tape, scaled)
        else:
            self._apply_minimax(tape, scaled, out, cycle)
        del tape
        # Monitoring only: measured with the pre-update E and G of this step.
        recon = self._recon_l1(x, tf.stop_gradient(out["z_real"]))
        values = all_mean(ctx, {k: out[k] for k in self.metric_names()
                                      if k != "recon_l1"} | {"recon_l1": recon})
        return self.report(values)

    def _apply_minimax(self, tape, value_scaled, out, cycle_scaled):
        """The minimax game's update with one backward pass through D.

        As printed (Donahue et al. 2017, Eq. 1) G and E minimise V and D maximises
        it: ``d_loss = -V = -(g_loss + e_loss)``. One backward pass of V through D
        therefore gives D's gradient (times -1) and the gradients with respect to
        G(z) and E(x) that G and E continue with. The non-saturating losses differ
        from D's per sample, so that game takes one backward pass per network.
        """
        d_vars = self.discriminator.trainable_variables
        d_value, (ct_fake, ct_z) = shared_fake_backward(
            tape, value_scaled, d_vars, [out["fake"], out["z_real"]])
        d_grads = add_scaled([None] * len(d_vars), d_value,
                             -loss_scale_ratio(self.d_optimizer, self.g_optimizer))
        g_vars = self.generator.trainable_variables
        e_vars = self.encoder.trainable_variables
        e_ratio = loss_scale_ratio(self.e_optimizer, self.g_optimizer)
        grads = {"d": d_grads,
                 "g": backward_through(tape, [out["fake"]], [ct_fake], g_vars,
                                       cycle_scaled["g"]),
                 "e": backward_through(tape, [out["z_real"]],
                                       [ct_z * tf.cast(e_ratio, ct_z.dtype)], e_vars,
                                       cycle_scaled["e"])}
        for name, network in self.optimizer_networks:
            variables = getattr(self, network).trainable_variables
            optimizer = getattr(self, f"{name}_optimizer")
            optimizer.apply_gradients(zip(grads[name], variables, strict=True))

    def test_step(self, data):
        x = self.check_images(data)
        ctx = replica_context()
        # A fixed z per evaluation batch position: comparable across evaluations.
        z = self.global_z(tf.shape(x)[0], ctx, -1)
        out = self.compute_losses(x, z, training=False)
        recon = self._recon_l1(x, out["z_real"])
        values = all_mean(ctx, {k: out[k] for k in self.metric_names()
                                      if k != "recon_l1"} | {"recon_l1": recon})
        return self.report(values)

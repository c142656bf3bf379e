""":class:`GANModel`, the base every model family subclasses directly.

A GAN trains several networks, each with its own optimizer on its own loss
(Berthelot et al. 2017, footnote 2; Donahue et al. 2017; Ulyanov et al. 2018;
Khan et al. 2018). :class:`GANModel` owns what every family shares, once:

* compile: one optimizer per network, float16 loss-scale wrapping,
  ``make_optimizers``, the ``optimizers`` list that learning-rate callbacks walk, and
  the compile-config round trip of ``.keras`` files;
* the backbone settings (a validated ``ModelConfig``), the image check of every step,
  the prior and ``generate`` / ``sample_z``;
* the replica helpers every step uses: :func:`replica_context`, :func:`all_mean` and
  :func:`replica_slice` (noise drawn for the global batch, sliced per replica);
* the metric trackers and :meth:`GANModel.report`.

Each family then writes its own ``compute_losses`` (used by ``train_step`` and
``test_step``) and its ``train_step``; no family borrows another's methods.
"""

from __future__ import annotations

import keras
import tensorflow as tf

import tfbegan.models.priors as priors
from tfbegan.checks import check_d_lr_ratio, check_seed
from tfbegan.models.config import BACKBONE_FIELDS


def discriminator_learning_rate(learning_rate, d_lr_ratio=1.0):
    """D's Adam rate, ``d_lr_ratio * learning_rate``; the ratio must be in (0, 100].

    Berthelot et al. 2017 sec. 4.1 trains D and G at one rate (ratio 1). A ratio below 1 slows
    the auto-encoder down, which keeps k_t higher for longer (docs/results.md, "What keeps k up").
    """
    check_d_lr_ratio(d_lr_ratio)
    return float(learning_rate) * float(d_lr_ratio)


def default_optimizer(learning_rate=1e-4, beta1=0.5, name=None):
    """Adam as Berthelot et al. 2017 use it (sec. 4.1: lr in [5e-5, 1e-4]; beta1 0.5)."""
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta1, name=name)


def maybe_loss_scale(optimizer, dtype_policy):
    """Wraps ``optimizer`` in ``keras.optimizers.LossScaleOptimizer`` under float16.

    float16's 5 exponent bits flush gradients below ~6e-8 to zero; dynamic loss
    scaling multiplies the loss by S (2^15 at first, halved on a non-finite gradient,
    which also skips that step, doubled after 2000 finite steps) and divides the
    gradients by S before the update (Micikevicius et al. 2018, sec. 3.2). Keras only
    wraps the single ``compile(optimizer=)``, so models with one optimizer per network
    wrap each one here. bfloat16 has float32's exponent range: no scaling.
    """
    name = getattr(dtype_policy, "name", dtype_policy)
    if name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(
            optimizer, name=f"{optimizer.name}_loss_scale")
    return optimizer


def replica_context():
    """The current replica context; train and test steps run inside ``strategy.run``."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # cross-replica context: called outside strategy.run
        raise RuntimeError("BEGAN steps must run in a replica context (inside fit).")
    return ctx


def replica_slice(draw, local_batch, ctx):
    """This replica's rows of ``draw(global_batch)``.

    Noise (z, the denoising corruption, VAE's eps) is drawn for the *global* batch from
    a stateless generator keyed by (seed, step) and sliced per replica, so one device
    and N replicas see the same numbers and a resumed run continues the same sequence.
    """
    full = draw(local_batch * ctx.num_replicas_in_sync)
    start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
    return full[start:start + local_batch]


def all_mean(ctx, values):
    """Cross-replica mean of a dict of scalars (identity on one replica)."""
    keys = sorted(values)
    if ctx.num_replicas_in_sync == 1:
        return values
    reduced = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, [values[k] for k in keys])
    return dict(zip(keys, reduced, strict=True))


class GANModel(keras.Model):
    """A Keras model that trains each of its networks with an optimizer of its own.

    Subclasses set :attr:`optimizer_networks`, ``(name, network attribute)`` pairs in
    the order of :attr:`optimizers` (the first one's ``iterations`` counts the steps),
    and write a ``compile`` whose keyword arguments name the optimizers
    (``d_optimizer=...``), forwarding to :meth:`compile_networks`. Each optimizer is
    stored as the attribute ``<name>_optimizer`` (the path ``.keras`` files use).
    Every train step differentiates ``optimizer.scale_loss(loss)``, so compile may
    wrap the optimizers for float16 loss scaling.

    Compile builds every optimizer on its network's variables inside the strategy
    scope: a lazily built Adam in a custom train_step under MirroredStrategy fails with
    "You must feed a value for placeholder tensor".

    A subclass calls :meth:`init_backbone` first in ``__init__``, builds its networks
    and calls :meth:`finish_init` last.
    """

    optimizer_networks = ()
    default_learning_rate = 1e-4
    default_beta1 = 0.5
    #: The latent prior of ``sample_z`` (``tfbegan.models.priors``).
    prior = "uniform"
    #: Models that infer z from x (VAE+BEGAN, BiGAN, AGE) set this to True and
    #: implement :meth:`encode`; export then adds the ``encode`` signature.
    has_encoder = False
    #: The metric that ConvergenceLRDecay watches.
    convergence_metric = "m_global"
    #: The shadow generator samples come from (``tfbegan.models.ema``), or None.
    ema_generator = None

    # ------------------------------------------------------------------ set-up
    def init_backbone(self, config, seed):
        """Stores ``config`` (a validated ModelConfig) as ``model.model_config``, one
        attribute per backbone field (``model.image_size``, ...) and ``model.seed``."""
        check_seed(seed)
        self.model_config = config
        for name in BACKBONE_FIELDS:
            setattr(self, name, getattr(config, name))
        self.seed = seed
        self.reset_optimizers()

    def finish_init(self):
        """Creates the metric trackers and marks the model built: without it fit()
        under a strategy stops with "Unable to automatically build the model"."""
        self._trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names()
                          if n != "k"}
        self.built = True

    def metric_names(self):
        """Names of the values each step reports, in order."""
        raise NotImplementedError

    @property
    def metrics(self):
        return list(self._trackers.values())

    def report(self, values):
        """Feeds the all-reduced ``values`` to the trackers; returns the logs (``k`` is
        the current value, not a running mean)."""
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        if "k" in self.metric_names():
            logs["k"] = tf.convert_to_tensor(self.k)
        return {name: logs[name] for name in self.metric_names()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ------------------------------------------------------------------ data
    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    def check_images(self, data):
        """Takes the images out of ``data`` (a tensor, a dict with ``image`` or a
        tuple) and checks shape and dtype, naming what was expected."""
        if isinstance(data, dict):
            if "image" not in data:
                raise ValueError(f"expected images of shape [batch, {self.image_size}, "
                                 f"{self.image_size}, {self.channels}] (or a dict with "
                                 f"key 'image'), got keys {sorted(data)}.")
            data = data["image"]
        elif isinstance(data, (tuple, list)):
            data = data[0]
        x = tf.convert_to_tensor(data)
        expected = f"[batch, {self.image_size}, {self.image_size}, {self.channels}]"
        if not x.dtype.is_floating:
            raise ValueError(f"expected float images in [-1, 1] of shape {expected}; got "
                             f"dtype {x.dtype.name} (scale uint8 images with "
                             f"x / 127.5 - 1).")
        if x.shape.rank != 4 or not x.shape[1:].is_compatible_with(self.image_shape):
            raise ValueError(f"expected images of shape {expected}, got {x.shape}.")
        if not x.shape[1:].is_fully_defined():
            # fit() retraces with relaxed shapes (reduce_retracing), so a second fit
            # on wrong data may only be caught at run time.
            x = tf.ensure_shape(x, (None,) + self.image_shape,
                                name=f"expected_images_of_shape_batch_{self.image_size}"
                                     f"x{self.image_size}x{self.channels}")
        return tf.cast(x, tf.float32)

    # ------------------------------------------------------------------ latents
    def sample_z(self, num, seed=0, counter=0):
        """``num`` latents from :attr:`prior`, stateless in ``(seed, counter)``."""
        return priors.sample(self.prior, num, self.z_dim, seed, counter)

    def global_z(self, local_batch, ctx, counter):
        """This replica's slice of the global batch's z at ``counter``."""
        return replica_slice(lambda n: self.sample_z(n, self.seed, counter),
                             local_batch, ctx)

    @property
    def sampling_generator(self):
        """The network samples come from: the EMA shadow when on, else ``generator``."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def generate(self, z_or_num, seed=0):
        """G(z) in inference mode.

        ``generate(z)`` maps the given ``[num, z_dim]`` latents;
        ``generate(num, seed=s)`` draws ``num`` latents with :meth:`sample_z` first.
        """
        if isinstance(z_or_num, int) and not isinstance(z_or_num, bool):
            if z_or_num <= 0:
                raise ValueError(f"num={z_or_num!r} must be > 0.")
            z = self.sample_z(z_or_num, seed)
        else:
            z = tf.convert_to_tensor(z_or_num, tf.float32)
            if z.shape.rank != 2 or z.shape[-1] != self.z_dim:
                raise ValueError(f"z must have shape [num, {self.z_dim}], got {z.shape}.")
        return self.sampling_generator(z, training=False)

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit``, refusing the Keras callbacks that change
        ``model.optimizer``'s learning rate: a GAN has one optimizer per network and
        ``model.optimizer`` is None (ReduceLROnPlateau failed with "'NoneType' object
        has no attribute 'learning_rate'").

        A ``tf.data.Dataset`` is shuffled by its own pipeline, so ``shuffle``
        defaults to False for one (Keras warns on every such fit otherwise)."""
        x = args[0] if args else kwargs.get("x")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        for callback in callbacks or ():
            if isinstance(callback, (keras.callbacks.ReduceLROnPlateau,
                                     keras.callbacks.LearningRateScheduler)):
                raise ValueError(
                    f"{type(callback).__name__} changes model.optimizer only, and "
                    f"{type(self).__name__} has one optimizer per network; use "
                    f"tfbegan.callbacks.ConvergenceLRDecay, which changes them all.")
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def encode(self, images):
        """images -> z; only for models with an encoder."""
        raise NotImplementedError(f"{type(self).__name__} has no encoder.")

    def call(self, z, training=False):
        return self.generator(z, training=training)

    # ------------------------------------------------------------------ compile

    def reset_optimizers(self):
        """Sets every ``<name>_optimizer`` attribute to None (not compiled yet)."""
        for name, _ in self.optimizer_networks:
            setattr(self, f"{name}_optimizer", None)

    def compile_networks(self, optimizers, kwargs):
        """Attaches ``optimizers`` (name -> optimizer, or None for the default of
        :meth:`make_optimizers`) and builds each on its network's variables."""
        kwargs.pop("optimizer", None)
        kwargs.pop("loss", None)
        keras.Model.compile(self, optimizer=None, **kwargs)
        defaults = self.make_optimizers()
        chosen = []
        for name, _ in self.optimizer_networks:
            opt = optimizers.get(name)
            opt = keras.optimizers.get(
                opt if opt is not None else defaults[f"{name}_optimizer"])
            # Only the networks chosen so far: zip stops at the shorter list.
            for (other, _), seen in zip(self.optimizer_networks, chosen, strict=False):
                if opt is seen:
                    raise ValueError(
                        f"{other}_optimizer and {name}_optimizer must be different "
                        f"optimizer objects (each keeps its own slot variables).")
            chosen.append(opt)
        chosen = [maybe_loss_scale(opt, self.dtype_policy) for opt in chosen]
        for (name, _), opt in zip(self.optimizer_networks, chosen, strict=True):
            setattr(self, f"{name}_optimizer", opt)
        with self.distribute_strategy.scope():
            for (_, network), opt in zip(self.optimizer_networks, chosen, strict=True):
                opt.build(getattr(self, network).trainable_variables)

    def make_optimizers(self, learning_rate=None, beta1=None, d_lr_ratio=1.0):
        """Fresh Adam optimizers for ``compile``, one per network, as keyword arguments.

        ``train_lib`` calls ``model.compile(**model.make_optimizers(lr, beta1, ratio))``
        so that each model family decides how many optimizers it needs. ``None`` takes
        the family's paper default. The discriminator (``d``) learns at
        ``d_lr_ratio * learning_rate`` (two time scales, Heusel et al. 2017); a model
        without one accepts only ``d_lr_ratio = 1``.
        """
        learning_rate = self.default_learning_rate if learning_rate is None else learning_rate
        beta1 = self.default_beta1 if beta1 is None else beta1
        d_rate = discriminator_learning_rate(learning_rate, d_lr_ratio)
        names = [name for name, _ in self.optimizer_networks]
        if d_lr_ratio != 1.0 and "d" not in names:
            raise ValueError(f"d_lr_ratio={d_lr_ratio!r}: {type(self).__name__} has no "
                             f"discriminator (its networks: {', '.join(names)}); "
                             f"leave the ratio at 1.")
        return {f"{name}_optimizer": default_optimizer(
                    d_rate if name == "d" else learning_rate, beta1, name=f"{name}_adam")
                for name in names}

    @property
    def optimizers(self):
        """The optimizers in :attr:`optimizer_networks` order; used by LR callbacks."""
        opts = [getattr(self, f"{name}_optimizer", None)
                for name, _ in self.optimizer_networks]
        return [o for o in opts if o is not None]

    def require_compiled(self):
        """Raises a one-line RuntimeError when an optimizer is missing."""
        if len(self.optimizers) != len(self.optimizer_networks):
            names = ", ".join(f"{n}_optimizer=..." for n, _ in self.optimizer_networks)
            raise RuntimeError(f"Call model.compile({names}) or "
                               f"model.compile(**model.make_optimizers()) before fit().")

    def step_counter(self):
        """The first optimizer's ``iterations``: the step that keys this step's noise."""
        return tf.convert_to_tensor(
            getattr(self, f"{self.optimizer_networks[0][0]}_optimizer").iterations)

    def get_compile_config(self):
        if not self.optimizers:
            return None
        return {f"{name}_optimizer": keras.saving.serialize_keras_object(
            getattr(self, f"{name}_optimizer")) for name, _ in self.optimizer_networks}

    def compile_from_config(self, config):
        self.compile(**{key: keras.saving.deserialize_keras_object(value)
                        for key, value in config.items()})


"""DiffAugment: differentiable augmentation of what the discriminator sees
(Zhao, Liu, Lin, Zhu, Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training", sec. 3).

Zhao et al. 2020 apply one random transform family T to *both* real and generated
images, every time D sees them, and back-propagate through T into G (augmenting only
the real images teaches D that the augmented look is "real" and G then learns to
produce it; augmenting only in D's update lets G fool an unaugmented D). For a
BEGAN-family model (an auto-encoder D, Berthelot et al. 2017 Eq. 1) this reads, with
each batch drawn its own transform::

    L(T(x))    = |T(x) - D(T(x))|^eta
    L(T(G(z))) = |T(G(z)) - D(T(G(z)))|^eta
    L_D = L(T(x)) - k_t L(T(G(z)))           (D's loss)
    L_G = L(T(G(z)))                         (G's loss, its gradient through T)
    k_{t+1} = clip(k_t + lambda_k (gamma L(T(x)) - L(T(G(z)))), 0, 1)
    M_global = L(T(x)) + |gamma L(T(x)) - L(T(G(z)))|

The equilibrium is kept between what D sees, so k and M_global use the augmented
losses. Only training steps augment; evaluation, sampling and exports do not.

Policies (Zhao et al. 2020 sec. 3 and their released code, on images in [-1, 1];
per sample, parameters uniform):

* ``color``: brightness ``x + b``, b in [-0.5, 0.5); then saturation
  ``(x - mean_c x) s + mean_c x`` (mean over channels), s in [0, 2); then contrast
  ``(x - mean x) c + mean x`` (mean over the whole image), c in [0.5, 1.5). No clip
  to [-1, 1] (it would cut the gradient). On grey images saturation is the identity.
* ``translation``: an integer shift (dy, dx), each in [-S/8, S/8] (``round(S / 8)``
  pixels for an S x S image), the vacated pixels filled with :data:`FILL`.
* ``cutout``: a square of side S/2 set to :data:`FILL`, its top-left corner uniform
  in [-S/4, 3S/4] per axis, so the square may be cut by the border (as in the
  released code: its centre is uniform over the image).

**Fill value.** :data:`FILL` is 0, the middle of [-1, 1] (grey) and the value the
released code pads with for [-1, 1] images, not -1 (black). The fill enters real
and generated images alike, so D cannot tell them apart by it; -1 would match the
background of the digits but not of colour data sets, and one fill serves both
translation and cutout.

Randomness is stateless: the parameters of step t are a function of
``(seed, t)`` folded with :data:`AUGMENT_SALT` and a stream number (:data:`REAL`,
:data:`FAKE`), drawn for the *global* batch and sliced per replica like z
(``tfbegan.models.base.replica_slice``), so one device and N replicas augment alike
and a resumed run continues the same sequence. Every op is a gather, a select or
arithmetic on the images: differentiable with respect to them, in graph mode and
under ``tf.distribute``.
"""

from __future__ import annotations

import tensorflow as tf

from tfbegan.models.base import replica_slice
from tfbegan.models.priors import STATELESS_ALG

#: Policy name -> the per-sample parameters it draws, in the order they apply.
POLICIES = {"color": ("brightness", "saturation", "contrast"),
            "translation": ("shift",), "cutout": ("corner",)}
#: Zhao et al. 2020's colour ranges for images in [-1, 1]: (low, high) of uniforms.
COLOR_RANGES = {"brightness": (-0.5, 0.5), "saturation": (0.0, 2.0),
                "contrast": (0.5, 1.5)}
#: Largest translation, as a fraction of the image side (Zhao et al. 2020: 1/8).
TRANSLATION_RATIO = 0.125
#: Cutout side, as a fraction of the image side (Zhao et al. 2020: 1/2).
CUTOUT_RATIO = 0.5
#: Value of translated-in and cut-out pixels (module docstring, "Fill value").
FILL = 0.0
#: Folded into the (seed, step) key, so augmentation draws are independent of z and
#: of the denoising noise, which use the same (seed, step) key.
AUGMENT_SALT = 0x61756720  # "aug "
#: Stream numbers: the real batch and the generated batch draw independently.
REAL, FAKE = 0, 1
#: Each parameter's own sub-stream: a policy draws the same numbers whichever other
#: policies are on.
_PARAM_INDEX = {name: i for i, name in enumerate(
    p for params in POLICIES.values() for p in params)}


def parse_policy(spec):
    """``"color,translation"`` -> ``("color", "translation")``; ``""`` or None -> ().

    Raises a one-line ValueError naming the bad value and the valid names.
    Order is kept (the transforms apply in it); a name may appear once.
    """
    if spec is None:
        return ()
    allowed = ", ".join(POLICIES)
    if not isinstance(spec, str):
        raise ValueError(f"augment={spec!r} must be a string of comma-separated "
                         f"policies ({allowed}); '' = off.")
    names = tuple(p.strip() for p in spec.split(",")) if spec.strip() else ()
    for name in names:
        if name not in POLICIES:
            raise ValueError(f"augment={spec!r}: {name!r} is not a DiffAugment policy; "
                             f"allowed: {allowed} (comma-separated; '' = off).")
    if len(set(names)) != len(names):
        raise ValueError(f"augment={spec!r} names a policy twice; allowed once each: "
                         f"{allowed}.")
    return names


def canonical_policy(spec):
    """The stored form of a policy string: names joined by ``,``, no spaces."""
    return ",".join(parse_policy(spec))


def translation_range(image_size):
    """Largest |shift| in pixels, ``round(image_size / 8)``."""
    return int(image_size * TRANSLATION_RATIO + 0.5)


def cutout_size(image_size):
    """Side of the cut-out square in pixels, ``round(image_size / 2)``."""
    return int(image_size * CUTOUT_RATIO + 0.5)


# ----------------------------------------------------------------------- the ops
def adjust_color(images, brightness, saturation, contrast):
    """Brightness, then saturation, then contrast, with per-sample ``[N, 1, 1, 1]``
    factors: ``b = 0, s = 1, c = 1`` is the identity."""
    x = images + brightness
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = (x - mean) * saturation + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * contrast + mean


def _inside(index, size):
    return (index >= 0) & (index < size)


def translate(images, shifts):
    """``out[b, i, j] = images[b, i - dy_b, j - dx_b]``, :data:`FILL` where that pixel
    lies outside; ``shifts`` is ``[N, 2]`` int32 ``(dy, dx)`` (down, right)."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.range(height)[None, :] - shifts[:, :1]  # [N, H] source rows
    cols = tf.range(width)[None, :] - shifts[:, 1:]  # [N, W] source columns
    # Clipped so every gather index is valid; the mask below discards those pixels.
    out = tf.gather(images, tf.clip_by_value(rows, 0, height - 1), axis=1, batch_dims=1)
    out = tf.gather(out, tf.clip_by_value(cols, 0, width - 1), axis=2, batch_dims=1)
    inside = _inside(rows, height)[:, :, None] & _inside(cols, width)[:, None, :]
    return tf.where(inside[..., None], out, tf.cast(FILL, images.dtype))


def cut_out(images, corners, size):
    """:data:`FILL` on rows ``[top, top + size)`` and columns ``[left, left + size)``
    of each sample (the part inside the image); ``corners`` is ``[N, 2]`` int32
    ``(top, left)``."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    rows = tf.range(height)[None, :] - corners[:, :1]  # position inside the square
    cols = tf.range(width)[None, :] - corners[:, 1:]
    square = _inside(rows, size)[:, :, None] & _inside(cols, size)[:, None, :]
    return tf.where(square[..., None], tf.cast(FILL, images.dtype), images)


def apply(images, policy, params, image_size):
    """T(images): each policy of ``policy`` in order, with ``params`` from :func:`draw`
    (this batch's rows)."""
    x = images
    for name in policy:
        if name == "color":
            factors = [tf.cast(params[p], x.dtype) for p in POLICIES["color"]]
            x = adjust_color(x, *factors)
        elif name == "translation":
            x = translate(x, params["shift"])
        else:
            x = cut_out(x, params["corner"], cutout_size(image_size))
    return x


# ----------------------------------------------------------------------- the draws
def _key(seed, counter, stream, param):
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(counter, tf.int64)])
    for data in (AUGMENT_SALT, stream, _PARAM_INDEX[param]):
        key = tf.random.experimental.stateless_fold_in(key, data)
    return key


def draw(policy, num, image_size, seed, counter, stream, color_ranges=None):
    """Parameters of ``policy`` for ``num`` images, stateless in
    ``(seed, counter, stream)``: ``brightness``, ``saturation``, ``contrast``
    ``[num, 1, 1, 1]`` float32, ``shift`` and ``corner`` ``[num, 2]`` int32.

    ``color_ranges`` overrides :data:`COLOR_RANGES` (a test hook: equal ends give
    fixed factors)."""
    ranges = {**COLOR_RANGES, **(color_ranges or {})}
    shift, half = translation_range(image_size), cutout_size(image_size) // 2
    out = {}
    for name in (p for policy_name in policy for p in POLICIES[policy_name]):
        key = _key(seed, counter, stream, name)
        if name in COLOR_RANGES:
            low, high = ranges[name]
            out[name] = tf.random.stateless_uniform(
                tf.stack([num, 1, 1, 1]), key, low, high, alg=STATELESS_ALG)
            continue
        # maxval is exclusive: shifts in [-shift, shift], corners in [-half, S - half].
        low, high = (-shift, shift + 1) if name == "shift" else (-half, image_size - half + 1)
        out[name] = tf.random.stateless_uniform(tf.stack([num, 2]), key, low, high,
                                                dtype=tf.int32, alg=STATELESS_ALG)
    return out


class DiffAugment:
    """A model's augmentation: its policy, image size and seed (Zhao et al. 2020).

    ``step_params`` draws a training step's parameters (None when the policy is
    empty); ``pair(params, real, fake)`` returns ``(T_real(real), T_fake(fake))``,
    the inputs unchanged when ``params`` is None.
    """

    def __init__(self, policy, image_size, seed):
        self.policy = parse_policy(policy)
        self.image_size = int(image_size)
        self.seed = seed

    @property
    def spec(self):
        """The canonical policy string (``""`` when off)."""
        return ",".join(self.policy)

    def step_params(self, local_batch, ctx, counter):
        """``(real, fake)`` parameter dicts for this replica's rows of the global
        batch at step ``counter``, or None when augmentation is off."""
        if not self.policy:
            return None
        global_batch = local_batch * ctx.num_replicas_in_sync
        out = []
        for stream in (REAL, FAKE):
            full = draw(self.policy, global_batch, self.image_size, self.seed, counter,
                        stream)
            out.append({name: replica_slice(lambda _, v=v: v, local_batch, ctx)
                        for name, v in full.items()})
        return tuple(out)

    def __call__(self, images, params):
        """T(images) with ``params`` (one stream's dict); ``images`` when None."""
        if params is None:
            return images
        return apply(images, self.policy, params, self.image_size)

    def pair(self, params, real, fake):
        """``(T(real), T(fake))``, each batch with its own stream's parameters."""
        real_params, fake_params = params if params is not None else (None, None)
        return self(real, real_params), self(fake, fake_params)

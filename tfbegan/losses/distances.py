"""Per-sample distances between images and their auto-encoder reconstructions.

BEGAN (Berthelot et al. 2017, Eq. 1 and sec. 3.1): ``L(v) = mean |v - D(v)|^eta`` with eta in
{1, 2}, the mean over pixels (and channels) of each sample; the scalar loss is the
batch mean of the per-sample values.

Vertolli & Davies 2017 (Eq. 6 and the cQS section): l1, l2, GMSM and chrominance distances on
images mapped to [0, 1], and their beta-weighted combination; see the block comment
above :data:`GMS_C` for the choices the paper leaves open.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfbegan import imaging


def pixel_distance(v, reconstruction, eta=1):
    """Per-sample ``mean |v - D(v)|^eta`` over height, width and channels.

    Args:
      v: images ``[batch, H, W, C]``.
      reconstruction: ``D(v)``, same shape.
      eta: 1 (l1, the paper's choice) or 2 (squared l2).

    Returns:
      float32 ``[batch]``.
    """
    if eta not in (1, 2):
        raise ValueError(f"eta={eta!r} is not supported; allowed values: 1, 2.")
    diff = tf.cast(v, tf.float32) - tf.cast(reconstruction, tf.float32)
    err = tf.abs(diff) if eta == 1 else tf.square(diff)
    return tf.reduce_mean(err, axis=[1, 2, 3])


def pixel_loss(v, reconstruction, eta=1):
    """Scalar ``L(v)``: the batch mean of :func:`pixel_distance`."""
    return tf.reduce_mean(pixel_distance(v, reconstruction, eta))


# --------------------------------------------------------------------------------
# Image-quality distances (Vertolli & Davies 2017: Vertolli & Davies, "Image quality assessment
# techniques show improved training and evaluation of autoencoder GANs").
#
# All of them take images in [-1, 1] (the model's range) and map them to [0, 1]
# first, the range cQS and its constant C are defined on. Each returns one value
# per sample, float32 ``[batch]``, and is symmetric in its two arguments.
#
# Choices the paper leaves open (documented once here):
# * Gradient kernels are normalised (Sobel / 4, Prewitt / 3) so that a unit step
#   gives magnitude 1 with either operator; C = 0.0026 = 170 / 255^2 was calibrated
#   by GMSD for the normalised Prewitt kernel on [0, 1] images. The Sobel
#   magnitude is therefore exactly ``|tf.image.sobel_edges(y)| / 4``.
# * Borders: 1-pixel REFLECT padding (mirror without repeating the edge pixel), the
#   padding ``tf.image.sobel_edges`` uses, so maps keep the image size (H, W >= 2).
# * sqrt at 0: the magnitude is ``sqrt(gx^2 + gy^2)`` exactly where the sum is
#   positive and 0 where it is 0, with the gradient taken through a guarded sqrt,
#   so flat regions give finite (zero) gradients instead of NaN.
# * One-channel images: Y is the grey value itself (R = G = B = g gives Y = g,
#   I = Q = 0, since the Y row sums to 1 and the I and Q rows to 0). Chrominance
#   of a grey image would be identically 0, so it is rejected with ValueError.
# * The chrominance similarity uses Eq. 4 on signed I and Q values; where the two
#   images' chroma has opposite signs S_I or S_Q is negative, so the chrominance
#   distance lies in [0, 2) in general and in [0, 1] when chroma signs agree. l1,
#   l2 (mean squared error) and GMSM distances lie in [0, 1].
# --------------------------------------------------------------------------------

#: GMS / cQS stability constant C (Vertolli & Davies 2017 footnote 2; 170 / 255^2).
GMS_C = 0.0026

#: RGB -> YIQ (rows Y, I, Q), Vertolli & Davies 2017 (cQS).
YIQ_MATRIX = ((0.299, 0.587, 0.114),
              (0.596, -0.274, -0.322),
              (0.211, -0.523, 0.312))

_SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
_PREWITT_X = ((-1.0, 0.0, 1.0), (-1.0, 0.0, 1.0), (-1.0, 0.0, 1.0))
GRADIENT_OPERATORS = {"sobel": (_SOBEL_X, 4.0), "prewitt": (_PREWITT_X, 3.0)}

#: Canonical distance names, in the order a canonical spec lists them.
DISTANCE_NAMES = ("l1", "l2", "gmsm", "gmsm_prewitt", "chrom")
_DISTANCE_ALIASES = {"chrominance": "chrom", "gmsm_sobel": "gmsm"}


def rgb_to_yiq(images):
    """RGB -> YIQ with :data:`YIQ_MATRIX` on the last axis (no range change).

    Args:
      images: ``[..., 3]`` RGB values (the IQA functions pass [0, 1] images).

    Returns:
      ``[..., 3]`` with channels (Y, I, Q).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape[-1] != 3:
        raise ValueError(f"rgb_to_yiq needs 3 channels, got shape {images.shape}.")
    matrix = tf.constant(YIQ_MATRIX, tf.float32)
    return tf.tensordot(images, tf.transpose(matrix), axes=[[-1], [0]])


def luminance(images):
    """Y of [0, 1] images ``[B, H, W, C]`` as ``[B, H, W, 1]``.

    3 channels: the YIQ luminance; 1 channel: the grey value itself.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    channels = images.shape[-1]
    if channels == 1:
        return images
    if channels == 3:
        return rgb_to_yiq(images)[..., :1]
    raise ValueError(f"expected images with 1 or 3 channels, got shape {images.shape}.")


def _safe_sqrt(x):
    """sqrt(x) for x >= 0 with a finite gradient (0) where x == 0."""
    positive = x > 0.0
    return tf.where(positive, tf.sqrt(tf.where(positive, x, tf.ones_like(x))),
                    tf.zeros_like(x))


def gradient_components(y, operator="sobel"):
    """Normalised horizontal and vertical 3x3 derivatives of ``[B, H, W, 1]`` maps.

    Sobel (cQS, the default) or Prewitt (GMSD), divided by 4 and 3 respectively;
    REFLECT padding keeps the size. Returns ``(gx, gy)``, each ``[B, H, W]``.
    """
    if operator not in GRADIENT_OPERATORS:
        raise ValueError(f"operator={operator!r} is not supported; allowed values: "
                         f"{', '.join(repr(o) for o in GRADIENT_OPERATORS)}.")
    kernel_x, norm = GRADIENT_OPERATORS[operator]
    kx = tf.constant(kernel_x, tf.float32) / norm
    ky = tf.transpose(kx)
    kernels = tf.stack([kx, ky], axis=-1)[:, :, tf.newaxis, :]  # [3, 3, 1, 2]
    y = tf.convert_to_tensor(y, tf.float32)
    padded = tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    g = tf.nn.conv2d(padded, kernels, strides=1, padding="VALID")
    return g[..., 0], g[..., 1]


def gradient_magnitude(y, operator="sobel"):
    """``m = sqrt(gx^2 + gy^2)`` of ``[B, H, W, 1]`` maps, ``[B, H, W]`` (Vertolli & Davies 2017,
    GMSD section; finite gradients at m = 0)."""
    gx, gy = gradient_components(y, operator)
    return _safe_sqrt(tf.square(gx) + tf.square(gy))


def similarity(a, b, c=GMS_C):
    """Eq. 4/5: ``S(a, b) = (2 a b + C) / (a^2 + b^2 + C)``, element-wise."""
    return (2.0 * a * b + c) / (tf.square(a) + tf.square(b) + c)


def _check_pair(v, reconstruction):
    v = tf.convert_to_tensor(v, tf.float32)
    r = tf.convert_to_tensor(reconstruction, tf.float32)
    if v.shape.rank != 4 or r.shape.rank != 4:
        raise ValueError(f"expected images [batch, H, W, C], got {v.shape} and {r.shape}.")
    if not v.shape.is_compatible_with(r.shape):
        raise ValueError(f"image shapes differ: {v.shape} vs {r.shape}.")
    return v, r


def gms_map(v, reconstruction, operator="sobel"):
    """Per-pixel GMS (Eq. 5) of the luminance of two [-1, 1] image batches,
    ``[B, H, W]`` in (0, 1]."""
    v, r = _check_pair(v, reconstruction)
    m_v = gradient_magnitude(luminance(imaging.to_zero_one(v)), operator)
    m_r = gradient_magnitude(luminance(imaging.to_zero_one(r)), operator)
    return similarity(m_v, m_r)


def gmsm_distance(v, reconstruction, operator="sobel"):
    """Per-sample ``1 - GMSM``: one minus the mean GMS over the whole image (one
    window, Vertolli & Davies 2017 footnote 3). In [0, 1), 0 for identical images."""
    return 1.0 - tf.reduce_mean(gms_map(v, reconstruction, operator), axis=[1, 2])


def chrominance_maps(v, reconstruction):
    """Per-pixel ``(S_I, S_Q)``: Eq. 4 on the I and Q channels of two [-1, 1]
    RGB batches (cQS), each ``[B, H, W]``."""
    v, r = _check_pair(v, reconstruction)
    if v.shape[-1] != 3:
        raise ValueError(f"chrominance needs 3-channel (RGB) images, got shape "
                         f"{v.shape}; grey images have no chroma.")
    yiq_v = rgb_to_yiq(imaging.to_zero_one(v))
    yiq_r = rgb_to_yiq(imaging.to_zero_one(r))
    return (similarity(yiq_v[..., 1], yiq_r[..., 1]),
            similarity(yiq_v[..., 2], yiq_r[..., 2]))


def chrominance_distance(v, reconstruction):
    """Per-sample ``1 - mean(S_I * S_Q)`` (the chrominance part of cQS)."""
    s_i, s_q = chrominance_maps(v, reconstruction)
    return 1.0 - tf.reduce_mean(s_i * s_q, axis=[1, 2])


def l1_distance(v, reconstruction):
    """Per-sample mean absolute difference of the [0, 1]-mapped images (half the
    [-1, 1] pixel loss with eta = 1)."""
    v, r = _check_pair(v, reconstruction)
    return tf.reduce_mean(tf.abs(imaging.to_zero_one(v) - imaging.to_zero_one(r)), axis=[1, 2, 3])


def l2_distance(v, reconstruction):
    """Per-sample mean squared difference of the [0, 1]-mapped images (the eta = 2
    pixel loss / 4)."""
    v, r = _check_pair(v, reconstruction)
    return tf.reduce_mean(tf.square(imaging.to_zero_one(v) - imaging.to_zero_one(r)),
                          axis=[1, 2, 3])


DISTANCES = {
    "l1": l1_distance,
    "l2": l2_distance,
    "gmsm": gmsm_distance,
    "gmsm_prewitt": lambda v, r: gmsm_distance(v, r, operator="prewitt"),
    "chrom": chrominance_distance,
}


def _canonical_name(name):
    if not isinstance(name, str):
        raise ValueError(f"distance name {name!r} must be a string; allowed: "
                         f"{', '.join(DISTANCE_NAMES)}.")
    key = name.strip().lower()
    key = _DISTANCE_ALIASES.get(key, key)
    if key not in DISTANCES:
        raise ValueError(f"unknown distance {name!r}; allowed: "
                         f"{', '.join(DISTANCE_NAMES)} (or 'chrominance').")
    return key


def parse_distance_spec(spec):
    """``{name: beta}`` (canonical names and order, zero betas dropped) from a
    string ``"l1:2,gmsm:1"`` (a bare name means beta 1) or a mapping.

    Raises ValueError for an unknown name, a repeated name, a beta that is not a
    finite number >= 0, or betas that are all zero (Eq. 6 divides by their sum).
    """
    if isinstance(spec, str):
        items = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                raise ValueError(f"distance={spec!r} has an empty entry; expected "
                                 f"'name:beta,...', e.g. 'l1:2,gmsm:1'.")
            name, sep, beta = part.partition(":")
            if sep:
                try:
                    beta = float(beta)
                except ValueError:
                    raise ValueError(f"distance={spec!r}: beta {beta.strip()!r} of "
                                     f"{name.strip()!r} is not a number.") from None
            else:
                beta = 1.0
            items.append((name, beta))
    elif isinstance(spec, dict) or hasattr(spec, "items"):
        items = list(spec.items())
    else:
        raise ValueError(f"distance={spec!r} must be None, a string like "
                         f"'l1:2,gmsm:1' or a mapping {{name: beta}}.")
    betas = {}
    for name, beta in items:
        key = _canonical_name(name)
        if key in betas:
            raise ValueError(f"distance={spec!r} names {key!r} twice.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)):
            raise ValueError(f"distance={spec!r}: beta of {key!r} must be a number, "
                             f"got {beta!r}.")
        beta = float(beta)
        if not math.isfinite(beta) or beta < 0:
            raise ValueError(f"distance={spec!r}: beta of {key!r} is {beta!r}; betas "
                             f"must be finite and >= 0.")
        betas[key] = beta
    if not betas or sum(betas.values()) <= 0:
        raise ValueError(f"distance={spec!r}: the betas are all zero (or none given); "
                         f"Eq. 6 divides by their sum, so at least one must be > 0.")
    return {n: betas[n] for n in DISTANCE_NAMES if betas.get(n, 0.0) > 0}


def _format_beta(beta):
    return str(int(beta)) if beta == int(beta) else repr(beta)


def canonical_distance_spec(spec):
    """The canonical string of a spec (``None`` stays ``None``): what BEGAN stores
    in its config, so dict and string specs round-trip through ``.keras`` files."""
    if spec is None:
        return None
    betas = parse_distance_spec(spec)
    return ",".join(f"{n}:{_format_beta(b)}" for n, b in betas.items())


def weighted_distance(v, reconstruction, betas):
    """Eq. 6: ``L = sum_d beta_d d(v, D(v)) / sum_d beta_d``, per sample.

    Args:
      v, reconstruction: ``[batch, H, W, C]`` images in [-1, 1].
      betas: a spec accepted by :func:`parse_distance_spec`.
    """
    return make_distance(betas)(v, reconstruction)


def make_distance(spec=None, eta=1, channels=None):
    """Returns the per-sample distance ``f(v, reconstruction) -> [batch]``.

    ``spec=None`` is the paper's pixel loss with exponent ``eta`` (Berthelot et al. 2017 Eq. 1).
    Otherwise ``spec`` is Eq. 6's weighted distance (Vertolli & Davies 2017), given as a string
    ``"l1:2,gmsm:1"`` or a mapping ``{"l1": 2, "gmsm": 1}``; ``eta`` must then be 1
    (use ``l2`` for a squared error). ``channels`` (when known) lets chrominance on
    one-channel images fail here rather than at the first step. The returned
    function carries ``.spec``: the canonical string (or None).
    """
    if eta not in (1, 2):
        raise ValueError(f"eta={eta!r} is not supported; allowed values: 1, 2.")
    if spec is None:
        def pixel(v, r):
            return pixel_distance(v, r, eta)
        pixel.spec = None
        return pixel
    betas = parse_distance_spec(spec)
    if eta != 1:
        raise ValueError(f"eta={eta!r} applies only to the default pixel loss; with "
                         f"distance={spec!r} use 'l2' in the spec instead.")
    if "chrom" in betas and channels is not None and channels != 3:
        raise ValueError(f"distance={spec!r} uses chrominance, which needs 3-channel "
                         f"(RGB) images; channels={channels!r}.")
    total = sum(betas.values())
    weights = [(DISTANCES[n], b / total) for n, b in betas.items()]

    def weighted(v, r):
        out = 0.0
        for fn, w in weights:
            out = out + w * fn(v, r)
        return out

    weighted.spec = ",".join(f"{n}:{_format_beta(b)}" for n, b in betas.items())
    return weighted

"""Sliced Wasserstein distance (SWD) between Laplacian-pyramid patches of two image
sets (Karras et al. 2018, "Progressive Growing of GANs", sec. 5 and appendix D).

A pixel-space metric: it needs no feature network, so it means the same for any
images (digits, faces, emoji) and runs offline. The protocol, as Karras et al. 2018
compute it:

1. **Laplacian pyramid** of every image (Burt & Adelson 1983). With the 5-tap
   Gaussian ``g = [1, 4, 6, 4, 1] / 16`` applied along rows and columns
   (the 5x5 kernel ``g g^T``, mirror borders as ``cv2.pyrDown``),
   ``G_0 = x``, ``G_{l+1} = downsample_2(g * G_l)`` and
   ``L_l = G_l - upsample_2(G_{l+1})`` (``upsample_2``: zeros between the samples,
   then ``4 g g^T``, as ``cv2.pyrUp``). Levels run from the full resolution down to
   16 px; the coarsest level is the Gaussian low-pass ``G`` itself, the others are
   band-pass residuals ``L``. Images of 16 px or less have one level, the image.
2. **Descriptors**: at each level, ``nhoods`` (128) random 7x7 neighbourhoods per
   image, their centres uniform over the positions whose neighbourhood lies inside
   the level; each is a vector of ``7 * 7 * C`` values.
3. **Normalisation**: each descriptor *set* (generated, real) is normalised by its
   own per-channel mean and standard deviation over all its descriptors and
   positions, as Karras et al. 2018 do (``finalize_descriptors``). A consequence:
   a per-channel affine change of a whole set (a global brightness or contrast
   shift) scores 0; SWD sees the structure of patches, not the colour balance.
4. **SWD** (Rabin et al. 2011): for ``repeats`` (4) draws of ``directions`` (128)
   random unit vectors ``u`` in R^D, the 1-D Wasserstein-1 distance between the
   projections ``{a_i . u}`` and ``{b_i . u}`` of two equally large sets is
   ``W_1 = mean_i |sort(a . u)_i - sort(b . u)_i|``; the SWD is its mean over the
   directions and the repeats, reported ``x 1e3``.

The result has one number per level, ``swd_<size>`` (``swd_64``, ``swd_32``,
``swd_16`` for 64 px images): the fine levels compare edges and texture, the 16 px
level the coarse layout and colour regions; ``swd`` is their mean. 0 for identical
sets; lower is better. Karras et al. 2018 report 16,384 images per set; at 1,000 the
values are noisier, so compare runs at the same ``num`` and beside the real-vs-real
floor.

Randomness is seeded and stateless: the neighbourhood centres of level ``l`` and
image ``i`` and the directions depend only on ``(seed, l)``, so both sets of a
comparison use the *same* centres and directions (common random numbers: identical
sets give exactly 0, and the spread between two seeds is smaller than with the
independent draws of Karras et al. 2018's code).
"""

from __future__ import annotations

import numpy as np

#: The binomial 5-tap Gaussian of ``cv2.pyrDown`` (Burt & Adelson 1983).
GAUSSIAN_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
#: Karras et al. 2018's protocol (appendix D).
MIN_SIZE = 16
NHOOD_SIZE = 7
NHOODS_PER_IMAGE = 128
DIR_REPEATS = 4
DIRS_PER_REPEAT = 128


def pyramid_sizes(image_size, min_size=MIN_SIZE):
    """Sizes of the pyramid's levels, finest first: ``image_size`` halved (rounding
    up) while the next level stays >= ``min_size`` (``[64, 32, 16]`` at 64 px,
    ``[32, 16]`` at 32 px, ``[8]`` at 8 px)."""
    size = int(image_size)
    if size < NHOOD_SIZE:
        raise ValueError(f"image_size={image_size!r} must be >= {NHOOD_SIZE} for SWD's "
                         f"{NHOOD_SIZE}x{NHOOD_SIZE} neighbourhoods.")
    sizes = [size]
    while (sizes[-1] + 1) // 2 >= min_size:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _blur(x, taps):
    """Separable ``taps`` filter along H and W of ``[N, H, W, C]``, mirror borders
    (numpy's ``reflect``: ``d c b | a b c d``, as ``cv2``'s default border)."""
    r = len(taps) // 2
    h, w = x.shape[1], x.shape[2]
    p = np.pad(x, ((0, 0), (r, r), (0, 0), (0, 0)), mode="reflect")
    x = sum(t * p[:, i:i + h] for i, t in enumerate(taps))
    p = np.pad(x, ((0, 0), (0, 0), (r, r), (0, 0)), mode="reflect")
    return sum(t * p[:, :, i:i + w] for i, t in enumerate(taps))


def pyr_down(x):
    """``downsample_2(g * x)``: blur, keep every other row and column."""
    return _blur(x, GAUSSIAN_TAPS)[:, ::2, ::2]


def pyr_up(x, size):
    """``upsample_2``: samples at even positions, zeros between, ``4 g g^T`` blur
    (2 g per axis, so a constant stays constant), cropped to ``size``."""
    n, h, w, c = x.shape
    up = np.zeros((n, 2 * h, 2 * w, c), x.dtype)
    up[:, ::2, ::2] = x
    return _blur(up, 2.0 * GAUSSIAN_TAPS)[:, :size, :size]


def laplacian_pyramid(images, min_size=MIN_SIZE):
    """Levels ``[L_0, ..., L_{n-2}, G_{n-1}]`` of ``[N, S, S, C]`` images, float32
    ``[N, s, s, C]`` for each ``s`` of :func:`pyramid_sizes` (see the module
    docstring); ``x = L_0 + up(L_1 + up(... + up(G_{n-1})))`` exactly."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[1] != x.shape[2]:
        raise ValueError(f"images must be square [N, S, S, C], got shape {x.shape}.")
    sizes = pyramid_sizes(x.shape[1], min_size)
    levels = [x]
    for size in sizes[1:]:
        low = pyr_down(levels[-1])
        levels[-1] = levels[-1] - pyr_up(low, levels[-1].shape[1])
        assert low.shape[1] == size
        levels.append(low)
    return levels


def _rng(seed, level, stream):
    return np.random.default_rng([int(seed), int(level), int(stream)])


def level_descriptors(level, seed=0, level_index=0, nhoods=NHOODS_PER_IMAGE):
    """``nhoods`` random 7x7 neighbourhoods of each image of one level, normalised
    per channel by the set's own mean and std (step 3): float32 ``[N * nhoods,
    49 C]``. A channel with zero std (a constant level) is only centred."""
    x = np.asarray(level, np.float32)
    n, size, _, c = x.shape
    r = NHOOD_SIZE // 2
    rng = _rng(seed, level_index, 0)
    # Centres in [r, size - r - 1]: the whole neighbourhood inside the level.
    cy = rng.integers(r, size - r, (n, nhoods))
    cx = rng.integers(r, size - r, (n, nhoods))
    offsets = np.arange(-r, r + 1)
    img = np.repeat(np.arange(n), nhoods)[:, None, None]
    ys = cy.reshape(-1)[:, None, None] + offsets[None, :, None]
    xs = cx.reshape(-1)[:, None, None] + offsets[None, None, :]
    desc = x[img, ys, xs]  # [N * nhoods, 7, 7, C]
    desc = desc - desc.mean(axis=(0, 1, 2), keepdims=True)
    std = desc.std(axis=(0, 1, 2), keepdims=True)
    desc = desc / np.where(std > 0, std, 1.0)
    return desc.reshape(len(desc), -1).astype(np.float32)


def descriptor_sets(images, seed=0, nhoods=NHOODS_PER_IMAGE, min_size=MIN_SIZE):
    """``{size: descriptors}`` of every pyramid level (:func:`level_descriptors`),
    finest first; compute once per image set and pass to :func:`swd_from_descriptors`
    (a fixed real set is compared with many others)."""
    levels = laplacian_pyramid(images, min_size)
    return {lv.shape[1]: level_descriptors(lv, seed, i, nhoods)
            for i, lv in enumerate(levels)}


def _equal_counts(a, b, rng):
    """Both sets cut to the smaller count by a seeded choice (W_1 of sorted
    projections pairs the i-th smallest of each, so the counts must match)."""
    m = min(len(a), len(b))
    if len(a) > m:
        a = a[np.sort(rng.choice(len(a), m, replace=False))]
    if len(b) > m:
        b = b[np.sort(rng.choice(len(b), m, replace=False))]
    return a, b


def sliced_wasserstein(a, b, seed=0, level_index=0, repeats=DIR_REPEATS,
                       directions=DIRS_PER_REPEAT):
    """SWD of two descriptor sets ``[M, D]`` (step 4; not scaled by 1e3):
    ``mean over u of mean_i |sort(a u)_i - sort(b u)_i|`` for ``repeats x directions``
    random unit ``u``. For D = 1 the directions are +-1 and this is the exact
    Wasserstein-1 distance of the two empirical distributions."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"descriptor sets must be [M > 0, D] of one D, got {a.shape} "
                         f"and {b.shape}.")
    rng = _rng(seed, level_index, 1)
    a, b = _equal_counts(a, b, rng)
    results = []
    for _ in range(int(repeats)):
        u = rng.standard_normal((a.shape[1], int(directions)))
        u = (u / np.sqrt(np.sum(u * u, axis=0, keepdims=True))).astype(np.float32)
        # [directions, M]: each row sorted in place, contiguous (faster than axis 0).
        pa = np.ascontiguousarray((a @ u).T)
        pb = np.ascontiguousarray((b @ u).T)
        pa.sort(axis=1)
        pb.sort(axis=1)
        results.append(float(np.mean(np.abs(pa - pb), dtype=np.float64)))
    return float(np.mean(results))


def swd_from_descriptors(desc_a, desc_b, seed=0):
    """``{"swd_<size>": 1e3 x SWD per level, ..., "swd": their mean}`` of two
    :func:`descriptor_sets` of images of one size."""
    if list(desc_a) != list(desc_b):
        raise ValueError(f"pyramid levels differ: {list(desc_a)} vs {list(desc_b)}.")
    report = {f"swd_{size}": 1e3 * sliced_wasserstein(desc_a[size], desc_b[size], seed, i)
              for i, size in enumerate(desc_a)}
    report["swd"] = float(np.mean(list(report.values())))
    return report


def swd(images_a, images_b, seed=0, nhoods=NHOODS_PER_IMAGE):
    """Karras et al. 2018's SWD of two ``[N, S, S, C]`` image sets (any range; the
    normalisation removes it): see :func:`swd_from_descriptors`."""
    a = np.asarray(images_a, np.float32)
    b = np.asarray(images_b, np.float32)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"image shapes differ: {a.shape[1:]} vs {b.shape[1:]}.")
    return swd_from_descriptors(descriptor_sets(a, seed, nhoods),
                                descriptor_sets(b, seed, nhoods), seed)

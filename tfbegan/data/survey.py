"""Channels and image size chosen from a folder's images, when the user gives neither.

:func:`resolve_folder` fills a ``DataConfig``'s ``channels=None`` / ``image_size=None``
from the headers of the folder's images (size and mode only, no pixels: about a tenth
of a millisecond a file; at most :data:`INSPECT_LIMIT` evenly spaced files are read):

* channels: 3 when any inspected image is colour (RGB, RGBA, CMYK, a palette with a
  non-grey entry, ...), else 1; grey images of a colour run are repeated to RGB and
  colour images of a grey run turned into luma (``tfbegan.data.decode``);
* image size: the largest power of two in [8, 256] not above the median side of the
  square each image becomes (:func:`kept_side`: ``resize='crop'`` the crop square,
  the shorter side for ``center``; ``pad`` the longer side; ``stretch`` the shorter
  side), so the typical image is shrunk, never enlarged, and the model (sizes are
  powers of two in [8, 256]) can take it. Images under 8 px are enlarged to 8.

What was chosen is said in one log line per folder and settings, e.g.
``folder DIR: 3,712 images, colour, 64 x 64 -> training at 64 px, 3 channels (pass
--image_size/--channels to override)``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import numpy as np

from tfbegan.data.decode import read_header
from tfbegan.data.folders import fingerprint
from tfbegan.imaging import CELEBA_BOX

__all__ = ["INSPECT_LIMIT", "FolderSurvey", "kept_side", "resolve_folder", "size_for_side",
           "survey_folder"]

logger = logging.getLogger("tfbegan.data.pipeline")

#: Most image headers read to choose channels and size (evenly spaced in sorted order).
INSPECT_LIMIT = 2000
#: The model's image sizes: powers of two in [MIN_SIZE, MAX_SIZE] (8x8 bottleneck).
MIN_SIZE, MAX_SIZE = 8, 256

_lock = threading.Lock()
_resolved = {}


@dataclasses.dataclass(frozen=True)
class FolderSurvey:
    """The headers of (up to ``INSPECT_LIMIT`` of) a folder's ``count`` image files:
    ``sizes`` ``(width, height)`` and ``colour`` flags of the ones that opened."""

    count: int
    inspected: int
    sizes: tuple
    colour: tuple


def survey_folder(paths, limit=INSPECT_LIMIT) -> FolderSurvey:
    """Reads the headers of ``paths`` (``limit`` evenly spaced ones when more);
    files PIL cannot open are left out (decoding names them later)."""
    n = len(paths)
    chosen = np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(np.int64))
    sizes, colour = [], []
    for i in chosen:
        try:
            width, height, is_colour = read_header(paths[i])
        except Exception:  # unreadable: named when decoded
            continue
        sizes.append((width, height))
        colour.append(is_colour)
    return FolderSurvey(n, len(chosen), tuple(sizes), tuple(colour))


def kept_side(width, height, resize="crop", crop="center") -> int:
    """Side in pixels of the square an image of ``width`` x ``height`` becomes before
    resizing (``tfbegan.imaging.square_uint8``)."""
    if resize == "pad":
        return max(width, height)
    if resize == "crop" and crop == "celeba":
        scale = min(height / CELEBA_BOX["image_height"], width / CELEBA_BOX["image_width"])
        return max(1, min(round(CELEBA_BOX["size"] * scale), width, height))
    return min(width, height)


def size_for_side(side) -> int:
    """The largest power of two in [8, 256] not above ``side`` (8 below 8)."""
    size = MIN_SIZE
    while size * 2 <= min(side, MAX_SIZE):
        size *= 2
    return size


def _describe(folder, survey, size, channels, given):
    """The one line saying what was found and chosen."""
    count = f"{survey.count:,} images"
    if survey.inspected < survey.count:
        count += f" ({survey.inspected:,} inspected)"
    n_colour = sum(survey.colour)
    kind = ("colour" if n_colour == len(survey.colour) else "grey" if not n_colour
            else f"grey and colour ({n_colour:,} of {len(survey.colour):,} colour)")
    if len(set(survey.sizes)) == 1:
        shapes = "{} x {}".format(*survey.sizes[0])
    else:
        by_area = sorted(survey.sizes, key=lambda s: (s[0] * s[1], s))
        shapes = "sizes {} x {} to {} x {}".format(*by_area[0], *by_area[-1])
    px = f"{size} px" + (" (given)" if "image_size" in given else "")
    ch = f"{channels} channel{'s' * (channels > 1)}" + (" (given)" if "channels" in given
                                                       else "")
    return (f"folder {folder}: {count}, {kind}, {shapes} -> training at {px}, {ch} "
            f"(pass --image_size/--channels to override)")


def _choose(data_config, paths):
    folder = data_config.source[1]
    survey = survey_folder(paths)
    if not survey.sizes:
        inspected = ("" if survey.inspected == survey.count
                     else f" ({survey.inspected:,} inspected)")
        raise ValueError(f"dataset folder {folder!r}: none of its {survey.count:,} image "
                         f"files{inspected} can be opened as an image.")
    size, channels = data_config.image_size, data_config.channels
    given = [name for name in ("image_size", "channels")
             if getattr(data_config, name) is not None]
    if size is None:
        sides = [kept_side(w, h, data_config.resize, data_config.crop)
                 for w, h in survey.sizes]
        size = size_for_side(int(np.median(sides)))
    if channels is None:
        channels = 3 if any(survey.colour) else 1
    logger.info("%s", _describe(folder, survey, size, channels, given))
    return data_config.replace(image_size=size, channels=channels)


def resolve_folder(data_config, paths):
    """``data_config`` with ``image_size`` and ``channels`` chosen from the images
    ``paths`` of its folder where they are None (see the module docstring).

    Memoised by the settings and the files' real paths, sizes and modification
    times, so the pipeline and the fixed real batch of one run share one survey and
    one log line. Raises ``ValueError`` naming the folder when no inspected file opens.
    """
    if data_config.image_size is not None and data_config.channels is not None:
        return data_config
    key = (data_config, fingerprint(paths))
    with _lock:
        if key in _resolved:
            return _resolved[key]
    resolved = _choose(data_config, paths)
    with _lock:
        _resolved.clear()  # one folder per run: keep the latest only
        _resolved[key] = resolved
    return resolved


def clear_cache():
    """Forgets memoised choices (for tests and long sessions)."""
    with _lock:
        _resolved.clear()

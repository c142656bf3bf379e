"""``DataConfig``: where training images come from, and the dataset spec grammar."""

from __future__ import annotations

import dataclasses
import os
import re

from tfbegan.checks import check_bool, check_choice, check_range

DATASET_FORMS = ("'mnist5k'", "'tfds:NAME[:SPLIT]' (e.g. 'tfds:celeb_a')", "'folder:PATH'")
CROPS = ("center", "celeba")
#: How a non-square image becomes a square (``DataConfig.resize``).
RESIZE_POLICIES = ("crop", "pad", "stretch")
#: Background names ``DataConfig.background`` accepts besides ``#rrggbb``.
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128),
               "gray": (128, 128, 128)}


def parse_background(value):
    """``(r, g, b)`` uint8 values of a background name or ``#rrggbb`` hex colour.

    Transparent pixels are composited onto it, and ``resize='pad'`` pads with it.
    Raises ``ValueError`` naming the value and the accepted forms.
    """
    if isinstance(value, str):
        key = value.strip().lower()
        if key in BACKGROUNDS:
            return BACKGROUNDS[key]
        if re.fullmatch(r"#[0-9a-f]{6}", key):
            return tuple(int(key[i:i + 2], 16) for i in (1, 3, 5))
    raise ValueError(f"background={value!r} is not a colour; use white, black, grey "
                     f"(or gray) or #rrggbb, e.g. #ff8000.")


def parse_dataset_spec(spec):
    """Splits a dataset spec into ``(kind, target, split)``.

    Grammar: ``mnist5k`` -> ("mnist5k", None, None); ``tfds:NAME[:SPLIT]`` ->
    ("tfds", NAME, SPLIT or "train"); NAME may carry a builder config
    (``NAME/CONFIG``); everything after the second colon is the split, so tfds
    slicing such as ``tfds:mnist:train[:10%]`` works. ``folder:PATH`` ->
    ("folder", PATH, None). Raises ``ValueError`` naming the spec and the allowed forms.
    """
    forms = ", ".join(DATASET_FORMS)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"dataset={spec!r} is not a dataset spec; allowed forms: {forms}.")
    if spec == "mnist5k":
        return "mnist5k", None, None
    kind, sep, rest = spec.partition(":")
    if sep and kind == "folder":
        if not rest:
            raise ValueError(f"dataset={spec!r} names no folder; use 'folder:PATH'.")
        return "folder", rest, None
    if sep and kind == "tfds":
        name, _, split = rest.partition(":")
        if not re.fullmatch(r"[A-Za-z0-9_]+(/[A-Za-z0-9_.+-]+)?", name):
            raise ValueError(f"dataset={spec!r}: {name!r} is not a tfds dataset name; "
                             f"use 'tfds:NAME[:SPLIT]', e.g. 'tfds:cifar10:train'.")
        return "tfds", name, split or "train"
    hint = ""
    if re.fullmatch(r"[A-Za-z0-9_]+", spec):
        hint = f" (for the TensorFlow Datasets one, use 'tfds:{spec}')"
    raise ValueError(f"dataset={spec!r} is not a dataset spec{hint}; allowed forms: "
                     f"{forms}.")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where training images come from and how they are shaped (``tfbegan.data.pipeline``).

    Attributes:
      dataset: ``mnist5k`` (5,000 embedded MNIST digits, offline), ``tfds:NAME[:SPLIT]``
        or ``folder:PATH`` (see ``parse_dataset_spec``).
      data_dir: tfds data directory (None: tfds' default ``~/tensorflow_datasets``).
      download: let tfds download and prepare a missing dataset.
      crop: ``center`` (largest centred square) or ``celeba`` (the 128x128 face box at
        row 50, column 25 of the 218x178 aligned CelebA images that carpedm20's
        BEGAN-tensorflow uses); ignored by ``mnist5k``.
      image_size: output height = width in pixels; None: chosen from a folder's images
        (``tfbegan.data.survey``: the largest power of two in [8, 256] not above the
        median side each image is squared to), 32 for ``mnist5k`` and tfds.
      shuffle_buffer: shuffle-buffer size for sources that are streamed.
      cache_limit_mb: decoded, resized uint8 images are kept in memory when their
        estimated size is at most this (MiB); 0 never caches. Below 2 GiB because a
        distributed dataset is serialised as a GraphDef, which cannot exceed 2 GiB.
      channels: 1 (grey) or 3 (colour) channels to train on; grey images are
        repeated to RGB for a colour run, colour images turned into BT.601 luma (PIL's
        ``convert("L")``) for a grey one. None: from the data (``mnist5k`` 1, tfds its
        feature's channels, a folder 3 when any inspected image is colour, else 1).
      resize: how an image that is not square becomes one before resizing to
        ``image_size``: ``crop`` (the ``crop`` square), ``pad`` (centred on a
        square of ``background``, nothing cut) or ``stretch`` (resized to the square,
        aspect ratio ignored); ``mnist5k`` takes ``crop`` only (it is padded).
      background: colour that transparent pixels (RGBA, LA, palette or grey/RGB with
        a transparent colour) are composited onto, with straight alpha
        ``a * rgb + (1 - a) * background``, and that ``pad`` fills with: ``white`` (as
        image viewers show transparency), ``black``, ``grey``/``gray`` or ``#rrggbb``.
    """

    dataset: str = "mnist5k"
    data_dir: str | None = None
    download: bool = False
    crop: str = "center"
    image_size: int | None = 32
    shuffle_buffer: int = 10000
    cache_limit_mb: int = 1024
    channels: int | None = None
    resize: str = "crop"
    background: str = "white"

    def __post_init__(self):
        kind, _, _ = parse_dataset_spec(self.dataset)
        if self.data_dir is not None and (not isinstance(self.data_dir, (str, os.PathLike))
                                          or not str(self.data_dir)):
            raise ValueError(f"data_dir={self.data_dir!r} must be None or a path.")
        check_bool("download", self.download)
        check_choice("crop", self.crop, CROPS)
        if kind == "mnist5k" and self.crop != "center":
            raise ValueError(f"crop={self.crop!r} is for face photos; dataset='mnist5k' "
                             f"is padded, not cropped: use crop='center'.")
        check_choice("resize", self.resize, RESIZE_POLICIES)
        if self.crop != "center" and self.resize != "crop":
            raise ValueError(f"crop={self.crop!r} chooses the square that resize='crop' "
                             f"cuts; resize={self.resize!r} cuts nothing: use "
                             f"crop='center' or resize='crop'.")
        if kind == "mnist5k" and self.resize != "crop":
            raise ValueError(f"resize={self.resize!r}: dataset='mnist5k' is padded to its "
                             f"square already: use resize='crop'.")
        parse_background(self.background)
        if self.image_size is not None:
            check_range("image_size", self.image_size, 1, 4096, integer=True)
        if self.channels is not None and (isinstance(self.channels, bool)
                                          or self.channels not in (1, 3)):
            raise ValueError(f"channels={self.channels!r} must be 1 (grey), 3 (colour) or "
                             f"None (from the data).")
        check_range("shuffle_buffer", self.shuffle_buffer, 1, integer=True)
        check_range("cache_limit_mb", self.cache_limit_mb, 0, 2047, integer=True)

    @property
    def background_rgb(self):
        """``background`` as ``(r, g, b)`` uint8 values."""
        return parse_background(self.background)

    @property
    def source(self):
        """``(kind, target, split)`` of ``dataset``, see ``parse_dataset_spec``."""
        return parse_dataset_spec(self.dataset)

    def replace(self, **changes) -> "DataConfig":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

"""``DataConfig``: where training images come from, and the dataset spec grammar."""

from __future__ import annotations

import dataclasses
import os
import re

from tfbegan.checks import check_bool, check_choice, check_range

DATASET_FORMS = ("'mnist5k'", "'tfds:NAME[:SPLIT]' (e.g. 'tfds:celeb_a')", "'folder:PATH'")
CROPS = ("center", "celeba")


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
      image_size: output height = width in pixels.
      shuffle_buffer: shuffle-buffer size for sources that are streamed.
      cache_limit_mb: decoded, resized uint8 images are kept in memory when their
        estimated size is at most this (MiB); 0 never caches. Below 2 GiB because a
        distributed dataset is serialised as a GraphDef, which cannot exceed 2 GiB.
    """

    dataset: str = "mnist5k"
    data_dir: str | None = None
    download: bool = False
    crop: str = "center"
    image_size: int = 32
    shuffle_buffer: int = 10000
    cache_limit_mb: int = 1024

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
        check_range("image_size", self.image_size, 1, 4096, integer=True)
        check_range("shuffle_buffer", self.shuffle_buffer, 1, integer=True)
        check_range("cache_limit_mb", self.cache_limit_mb, 0, 2047, integer=True)

    @property
    def source(self):
        """``(kind, target, split)`` of ``dataset``, see ``parse_dataset_spec``."""
        return parse_dataset_spec(self.dataset)

    def replace(self, **changes) -> "DataConfig":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

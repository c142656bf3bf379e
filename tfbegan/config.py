"""Frozen, validated configuration objects.

Every config validates itself at construction and raises ``ValueError`` naming the
argument, the bad value and the allowed range, before any TensorFlow variable is
created. Library code takes these objects (or plain arguments); only ``tfbegan.cli``
reads flags.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

SUPPORTED_IMAGE_SIZES = (8, 16, 32, 64, 128, 256)


def check_bool(name, value):
    """Raises ``ValueError`` unless ``value`` is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be a bool (True or False).")
    return value


def check_choice(name, value, allowed):
    """Raises ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not supported; allowed values: "
            f"{', '.join(repr(a) for a in allowed)}."
        )


def check_range(name, value, low=None, high=None, low_open=False, high_open=False,
                integer=False):
    """Raises ``ValueError`` unless ``low <= value <= high`` (bounds optional).

    ``low_open`` / ``high_open`` make the corresponding bound strict. ``integer``
    additionally requires an ``int`` (``bool`` is rejected).
    """
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name}={value!r} must be an integer.")
    if not integer:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}={value!r} must be a number.")
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be finite.")
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        left = "(" if (low_open or low is None) else "["
        right = ")" if (high_open or high is None) else "]"
        raise ValueError(f"{name}={value!r} is out of range; allowed: {left}{lo}, {hi}{right}.")


#: Model names (``tfbegan.models.MODELS``) with no discriminator to give its own rate.
MODELS_WITHOUT_DISCRIMINATOR = ("age",)


def check_image_size(value, name="image_size"):
    """Raises ``ValueError`` unless ``value`` is a power of two in [8, 256]: the
    bottleneck is always 8x8 (Berthelot et al. 2017 sec. 3.5)."""
    check_range(name, value, integer=True)
    if value not in SUPPORTED_IMAGE_SIZES:
        raise ValueError(f"{name}={value!r} is not supported; allowed: a power of two in "
                         f"[8, 256], i.e. one of {SUPPORTED_IMAGE_SIZES}.")


def check_d_lr_ratio(value):
    """Raises ``ValueError`` unless D's learning-rate ratio is in (0, 100] (Berthelot et al. 2017
    sec. 4.1: 1, one rate for D and G)."""
    check_range("d_lr_ratio", value, 0.0, 100.0, low_open=True)


#: Field metadata: the backbone settings every model family takes (``model_kwargs``).
BACKBONE = {"backbone": True}
#: Field metadata: a TrainConfig setting that may change when a run is resumed.
RESUMABLE = {"resumable": True}


#: Network architectures of ``ModelConfig.architecture`` (``tfbegan.networks``).
ARCHITECTURES = ("began", "dcgan")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and equilibrium hyper-parameters of a BEGAN (Berthelot et al. 2017, sec. 3).

    Attributes:
      image_size: height = width of the images, a power of two in [8, 256]. The
        bottleneck is always 8x8 (sec. 3.5), so sizes differ only in scale count.
      channels: 1 (grey) or 3 (RGB).
      filters: n, the filter count of the first scale; scale i uses (i + 1) * n.
      repeats: 3x3 conv + ELU layers per scale (paper: "typically 2").
      z_dim: N_z, the generator's input size, z ~ U[-1, 1]^N_z.
      h_dim: N_h, the auto-encoder's hidden-state size.
      gamma: diversity ratio gamma = E[L(G(z))] / E[L(x)], in [0, 1] (Eq. 5).
      lambda_k: proportional gain of the k_t update (paper: 0.001), >= 0.
      eta: exponent of the pixel loss L(v) = mean |v - D(v)|^eta, 1 or 2.
      k_init: k_0 (paper: 0), in [0, 1].
      batch_norm: batch normalization after the last (with the paper's two: the
        second) convolution of each scale block in encoder, decoder and generator
        (Li et al. 2018, Fig. 3).
      skip_connections: concatenate the first decoder tensor H0, nearest-up-sampled,
        with every up-sampled tensor in decoder and generator (Li et al. 2018, Fig. 3 "SC";
        Berthelot et al. 2017, sec. 4.1).
      architecture: ``"began"`` (Berthelot et al. 2017 sec. 3.5, the default) or
        ``"dcgan"``, the small DCGAN-style pair of public MNIST BEGANs
        (``tfbegan.networks``: one strided conv and a dense code in D, dense
        layers with batch norm and two transposed convs in G); ``repeats`` does
        not apply to it, and ``skip_connections`` joins G's H0 to its first
        up-sampled tensor only (D's decoder has a single up-sampling layer).
      generator_ema: decay d in [0, 1) of the exponential moving average of G's
        weights that samples come from (Yazici et al. 2019; ``tfbegan.models.ema``);
        0 = off, the default.
    """

    image_size: int = dataclasses.field(default=32, metadata=BACKBONE)
    channels: int = dataclasses.field(default=3, metadata=BACKBONE)
    filters: int = dataclasses.field(default=64, metadata=BACKBONE)
    repeats: int = dataclasses.field(default=2, metadata=BACKBONE)
    z_dim: int = dataclasses.field(default=64, metadata=BACKBONE)
    h_dim: int = dataclasses.field(default=64, metadata=BACKBONE)
    gamma: float = 0.5
    lambda_k: float = 0.001
    eta: int = 1
    k_init: float = 0.0
    batch_norm: bool = False
    skip_connections: bool = False
    architecture: str = "began"
    generator_ema: float = 0.0

    def __post_init__(self):
        check_image_size(self.image_size)
        check_range("channels", self.channels, integer=True)
        check_choice("channels", self.channels, (1, 3))
        check_range("filters", self.filters, 1, 4096, integer=True)
        check_range("repeats", self.repeats, 1, 16, integer=True)
        check_range("z_dim", self.z_dim, 1, 65536, integer=True)
        check_range("h_dim", self.h_dim, 1, 65536, integer=True)
        check_range("gamma", self.gamma, 0.0, 1.0)
        check_range("lambda_k", self.lambda_k, 0.0)
        check_range("eta", self.eta, integer=True)
        check_choice("eta", self.eta, (1, 2))
        check_range("k_init", self.k_init, 0.0, 1.0)
        check_range("generator_ema", self.generator_ema, 0.0, 1.0, high_open=True)
        for flag in ("batch_norm", "skip_connections"):
            check_bool(flag, getattr(self, flag))
        check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.gamma == 0 and self.k_init == 0:
            # A known critique of BEGAN: with gamma = 0 and k_0 = 0 the update
            # k += lambda_k * (0 - L(G(z))) <= 0 is clipped to 0 forever.
            raise ValueError(
                "gamma=0 with k_init=0 never moves k (k_{t+1} = clip(k_t - lambda_k * "
                "L(G(z)), 0, 1) stays 0); use gamma in (0, 1] or k_init in (0, 1]."
            )

    @property
    def num_scales(self) -> int:
        """Number of resolutions from image_size down to the 8x8 bottleneck."""
        return int(math.log2(self.image_size)) - 2

    def replace(self, **changes) -> "ModelConfig":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


STRATEGIES = ("default", "mirrored", "multi_worker")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything ``tfbegan.train_lib.train`` needs besides the workdir.

    Attributes:
      model: a name in ``tfbegan.models.MODELS``.
      model_kwargs: constructor keyword arguments of that model, including the
        backbone (image_size, channels, filters, repeats, z_dim, h_dim, seed).
      data: a ``tfbegan.data.DataConfig`` (dataset spec, crop, image size).
      batch_size: the *global* batch (split across replicas), paper: 16.
      steps: total optimizer steps of the run (a resumed run stops there too).
      learning_rate, beta1: Adam for every network (paper sec. 4.1; beta1 0.5 as
        Vertolli & Davies 2017 and Li et al. 2018).
      d_lr_ratio: the discriminator learns at ``d_lr_ratio * learning_rate`` (paper:
        1, one rate for all networks; the offline quickstart uses 0.5). Models
        without a discriminator (AGE) take only 1.
      lr_decay_factor: factor applied to every optimizer's learning rate when
        M_global stalls (paper: 0.5).
      lr_patience: steps without M_global improvement before decaying; 0 disables.
      lr_decay_every: also decay every this many steps (Vertolli & Davies 2017: 100,000); 0 = off.
      min_learning_rate: floor of the decay.
      log_every: steps between progress lines / metric rows (the Keras epoch length).
      checkpoint_every, sample_every: steps between checkpoints / sample grids.
      keep_checkpoints: checkpoints kept on disk.
      seed: seeds data order, initial weights and the z sequence.
      strategy: "default" (one device), "mirrored" (all local GPUs, or ``num_gpus``)
        or "multi_worker" (TF_CONFIG).
      num_gpus: GPUs for "mirrored"; 0 means all visible.
      export_base: export the generator to ``<export_base>/<version>`` at the end.
      mixed_precision: None, "auto" (bfloat16 where the CPU runs it natively,
        else float32: ``tfbegan.precision``), "bfloat16" or "float16".
      jit_compile: XLA-compile the train step.
      steps_per_execution: train steps per tf.function call.
    """

    model: str = "began"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    data: object = None
    batch_size: int = 16
    steps: int = dataclasses.field(default=1000, metadata=RESUMABLE)
    learning_rate: float = 1e-4
    d_lr_ratio: float = 1.0
    beta1: float = 0.5
    lr_decay_factor: float = dataclasses.field(default=0.5, metadata=RESUMABLE)
    lr_patience: int = dataclasses.field(default=0, metadata=RESUMABLE)
    lr_decay_every: int = dataclasses.field(default=0, metadata=RESUMABLE)
    min_learning_rate: float = dataclasses.field(default=1e-6, metadata=RESUMABLE)
    log_every: int = dataclasses.field(default=100, metadata=RESUMABLE)
    checkpoint_every: int = dataclasses.field(default=500, metadata=RESUMABLE)
    sample_every: int = dataclasses.field(default=500, metadata=RESUMABLE)
    keep_checkpoints: int = dataclasses.field(default=3, metadata=RESUMABLE)
    seed: int = 0
    strategy: str = dataclasses.field(default="default", metadata=RESUMABLE)
    num_gpus: int = dataclasses.field(default=0, metadata=RESUMABLE)
    export_base: str | None = dataclasses.field(default=None, metadata=RESUMABLE)
    mixed_precision: str | None = None
    jit_compile: bool = dataclasses.field(default=False, metadata=RESUMABLE)
    steps_per_execution: int = dataclasses.field(default=1, metadata=RESUMABLE)

    def __post_init__(self):
        check_range("batch_size", self.batch_size, 1, 1 << 20, integer=True)
        check_range("steps", self.steps, 1, integer=True)
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_d_lr_ratio(self.d_lr_ratio)
        if self.d_lr_ratio != 1.0 and self.model in MODELS_WITHOUT_DISCRIMINATOR:
            raise ValueError(f"d_lr_ratio={self.d_lr_ratio!r}: model {self.model!r} has no "
                             f"discriminator; leave the ratio at 1.")
        check_range("beta1", self.beta1, 0.0, 1.0, high_open=True)
        check_range("lr_decay_factor", self.lr_decay_factor, 0.0, 1.0, low_open=True)
        check_range("lr_patience", self.lr_patience, 0, integer=True)
        check_range("lr_decay_every", self.lr_decay_every, 0, integer=True)
        check_range("min_learning_rate", self.min_learning_rate, 0.0, 1.0)
        check_range("log_every", self.log_every, 1, integer=True)
        check_range("checkpoint_every", self.checkpoint_every, 1, integer=True)
        check_range("sample_every", self.sample_every, 1, integer=True)
        check_range("keep_checkpoints", self.keep_checkpoints, 1, integer=True)
        check_range("seed", self.seed, 0, 2**31 - 1, integer=True)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_range("num_gpus", self.num_gpus, 0, 1024, integer=True)
        check_choice("mixed_precision", self.mixed_precision,
                     (None, "auto", "bfloat16", "float16"))
        check_range("steps_per_execution", self.steps_per_execution, 1, 100000,
                    integer=True)
        if not isinstance(self.model_kwargs, dict):
            raise ValueError(f"model_kwargs={self.model_kwargs!r} must be a dict.")

    def replace(self, **changes) -> "TrainConfig":
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)


def fields_with(cls, key):
    """Names of ``cls``'s dataclass fields whose metadata sets ``key``."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get(key))


#: Settings that may change between a run and its resumption (the rest must match).
RESUMABLE_CHANGES = fields_with(TrainConfig, "resumable")
#: ModelConfig fields every model family takes; the CLI fills them from its flags.
BACKBONE_FIELDS = fields_with(ModelConfig, "backbone")


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
    """Where training images come from and how they are shaped (``tfbegan.data``).

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

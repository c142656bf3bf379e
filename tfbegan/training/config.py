"""``TrainConfig``: everything a training run needs besides its workdir, validated."""

from __future__ import annotations

import dataclasses

from tfbegan.checks import check_choice, check_d_lr_ratio, check_range, fields_with

#: Field metadata: a TrainConfig setting that may change when a run is resumed.
RESUMABLE = {"resumable": True}


STRATEGIES = ("default", "mirrored", "multi_worker")


#: The most steps a run may ask for (``--steps``).
MAX_STEPS = 10**12


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything ``tfbegan.training.train_lib.train`` needs besides the workdir.

    Attributes:
      model: a name in ``tfbegan.models.MODELS``.
      model_kwargs: constructor keyword arguments of that model, including the
        backbone (image_size, channels, filters, repeats, z_dim, h_dim, seed).
      data: a ``tfbegan.data.pipeline.DataConfig`` (dataset spec, crop, image size).
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
        else float32: ``tfbegan.training.precision``), "bfloat16" or "float16".
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
        # The step counter is an int64 optimizer variable; 10**12 steps is far past
        # any run and keeps every step arithmetic exact.
        check_range("steps", self.steps, 1, MAX_STEPS, integer=True)
        check_range("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_d_lr_ratio(self.d_lr_ratio)
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


#: Settings that may change between a run and its resumption (the rest must match).
RESUMABLE_CHANGES = fields_with(TrainConfig, "resumable")

"""``mixed_precision="auto"``: bfloat16 where the CPU runs it natively, else float32.

bfloat16 matrix products are 1.6-1.7x faster than float32 on CPUs with the
AVX512-BF16 or AMX-BF16 instructions (docs/benchmarks.md), and *slower* on CPUs
without them (TensorFlow then emulates bfloat16 in float32 with extra conversions).
``auto`` therefore turns bfloat16 on only when every CPU flag list in
``/proc/cpuinfo`` names one of :data:`NATIVE_BF16_FLAGS` and no GPU is visible (a
GPU run keeps float32 unless asked: whether it gains depends on the GPU).
"""

from __future__ import annotations

import logging

#: /proc/cpuinfo flags of CPUs with native bfloat16 arithmetic (x86: AVX512-BF16,
#: AMX-BF16; Arm: the "bf16" feature of ARMv8.6).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")

#: The values ``TrainConfig.mixed_precision`` takes.
CHOICES = (None, "auto", "bfloat16", "float16")

CPUINFO = "/proc/cpuinfo"


def cpu_flags(cpuinfo=CPUINFO):
    """The set of CPU feature flags named on *every* ``flags`` / ``Features`` line of
    ``cpuinfo`` (empty when the file is missing or has no such line)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    sets = []
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            sets.append(set(value.split()))
    return set.intersection(*sets) if sets else set()


def cpu_has_native_bfloat16(cpuinfo=CPUINFO):
    """Whether the CPU lists a native bfloat16 instruction set (every core)."""
    return bool(cpu_flags(cpuinfo) & set(NATIVE_BF16_FLAGS))


def resolve(mixed_precision, cpuinfo=CPUINFO, has_gpu=None):
    """The dtype a run uses: ``mixed_precision`` itself, or for ``"auto"``
    ``"bfloat16"`` on a CPU-only machine with native bfloat16, else None (float32).

    ``has_gpu`` (default: ask TensorFlow) lets tests pretend either way.
    """
    if mixed_precision not in CHOICES:
        raise ValueError(f"mixed_precision={mixed_precision!r} is not supported; allowed: "
                         f"{', '.join(repr(c) for c in CHOICES)}.")
    if mixed_precision != "auto":
        return mixed_precision
    if has_gpu is None:
        import tensorflow as tf

        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    chosen = "bfloat16" if not has_gpu and cpu_has_native_bfloat16(cpuinfo) else None
    logging.getLogger("tfbegan").info(
        "mixed_precision=auto: %s", "bfloat16 (the CPU has native bfloat16)" if chosen
        else "float32 (%s)" % ("a GPU is visible" if has_gpu
                               else "no native bfloat16 on this CPU"))
    return chosen

"""BEGAN training throughput: ``model.fit()`` against a hand-written tf.function loop.

Both paths do the same work per step (Berthelot et al. 2017, sec. 3.4): z ~ U[-1, 1] drawn
statelessly for the step, L(x) and L(G(z)) through the same networks, one tape, the
gradient of L_D = L(x) - k L(G(z)) applied to D and of L_G = L(G(z)) applied to G by
two Adam optimizers, and the clipped proportional k update. The loop is the reference
without Keras' machinery (metrics trackers, callbacks, epoch iterator, distribution
wrappers); fit() should reach >= 0.95x of its throughput.

Timing: each path first runs ``--warmup`` steps (tracing and the first executions),
then ``--steps`` steady-state steps are timed. For fit() the warm-up is its own fit()
call, so the timed call reuses the cached train function. Paths are interleaved
(fit, loop, loop, fit, ...) over ``--rounds`` rounds so that load on a shared machine
hits both alike; the summary reports the median per path and the median of the
per-round ratios.

Prints one JSON line per configuration and path (median over rounds), then one line
per configuration with ``path = "fit/loop"`` and the ratio.

The matrix of issue 9 (``--matrix``, or pick axes with ``--dtypes`` and
``--jit_modes``) crosses sizes, filters, dtype policy (float32, mixed_bfloat16) and
XLA on/off; every cell reports ``gflop_per_step`` and the achieved GFLOP/s against
the measured matrix-multiply ceiling of the machine (``--ceiling_float32``,
``--ceiling_bfloat16``).

The two paths compute the same update by different formulations (``formulation``
in the JSON lines). The loop is the fixed yardstick: one ``tape.gradient`` per
network, of L_D for D and of L_G for G, so it walks backward through D on G(z)
twice. fit() runs BEGAN's step, which walks backward through D on G(z) once
and gives D its part (times -k) and G the gradient with respect to G(z)
(``tfbegan.models.gradients``). FLOPs count what each formulation executes
(:func:`step_flops`), 2 per multiply-accumulate of the Conv2D and Dense layers
(ELU, up-sampling and the loss are ignored); a backward pass through a layer costs
one forward for the weight gradient and one for the input gradient, and a graph
computes only the gradients something asks for::

    forward               G + 2 D                (D on x and on G(z))
    two_backward (loop)   grad L_D -> D:  2 x (2 D - D_1)   weights + inputs but D's first
                          grad L_G -> G:  D + (2 G - G_1)   inputs through D, then G
    one_backward (fit)    grad L(G(z)) -> D, G(z):  2 D
                          grad L(x) -> D:           2 D - D_1
                          G(z) -> G:                2 G - G_1

with G, D the per-sample MACs of each network and G_1, D_1 those of its first layer
(whose input gradient nobody asks for). Per step: two_backward ``3 G - G_1 + 7 D -
2 D_1``, one_backward ``3 G - G_1 + 6 D - D_1``, times 2 x batch.

Example:
  python benchmarks/train_throughput.py --sizes 32,64 --filters 64 --batch 16 \
      --steps 20 --warmup 3 --rounds 2
  # On a shared small CPU box (other processes competing for the cores): one
  # intra-op / inter-op thread, so the two paths do not fight each other's threads,
  # and one benchmark process at a time; the ceiling columns then do not apply.
  TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 python \
      benchmarks/train_throughput.py --sizes 32,64 --dtypes float32,bfloat16 \
      --jit_modes false --steps 5 --warmup 1 --rounds 3
  python benchmarks/train_throughput.py --matrix --steps 3 --warmup 1 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from tfbegan.data import pipeline as data_lib
from tfbegan.losses import equilibrium
from tfbegan.models import BEGAN, priors
from tfbegan.models.config import ModelConfig
from tfbegan.networks import began


def _ints(text):
    return [int(v) for v in text.split(",") if v]


def _words(text):
    return [v for v in text.split(",") if v]


DTYPES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=_ints, default=[32, 64], help="image sizes, e.g. 32,64")
    p.add_argument("--filters", type=_ints, default=[64], help="n values, e.g. 32,64")
    p.add_argument("--batch", type=int, default=16, help="global batch size")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=2, help="interleaved repetitions")
    p.add_argument("--jit_compile", choices=["auto", "true", "false"], default="auto",
                   help="passed to compile(); the loop uses what fit resolved to")
    p.add_argument("--steps_per_execution", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--dtypes", type=_words, default=["float32"],
                   help=f"compute dtypes, comma-separated: {', '.join(DTYPES)} (mixed "
                        f"precision: variables, losses, k and outputs stay float32)")
    p.add_argument("--jit_modes", type=_words, default=None,
                   help="XLA settings to cross, e.g. false,true (default: --jit_compile)")
    p.add_argument("--autotune", action="store_true",
                   help="leave tf.data autotuning on (tfbegan.data.pipeline turns it off)")
    p.add_argument("--matrix", action="store_true",
                   help="issue 9's matrix: sizes 32,64,128 x filters 64,128 x dtypes "
                        "float32,bfloat16 x jit false,true (overrides those flags)")
    p.add_argument("--ceiling_float32", type=float, default=180.0,
                   help="measured float32 matmul GFLOP/s of this machine")
    p.add_argument("--ceiling_bfloat16", type=float, default=317.0,
                   help="measured bfloat16 matmul GFLOP/s (AVX512-BF16)")
    args = p.parse_args(argv)
    if args.matrix:
        args.sizes, args.filters = [32, 64, 128], [64, 128]
        args.dtypes, args.jit_modes = ["float32", "bfloat16"], ["false", "true"]
    args.jit_modes = args.jit_modes or [args.jit_compile]
    for d in args.dtypes:
        if d not in DTYPES:
            p.error(f"--dtypes: {d!r} is not one of {', '.join(DTYPES)}")
    for j in args.jit_modes:
        if j not in ("auto", "true", "false"):
            p.error(f"--jit_modes: {j!r} is not one of auto, true, false")
    return args


def layer_macs(layer):
    """Multiply-accumulates of one sample through one Conv2D or Dense layer (else 0)."""
    if isinstance(layer, keras.layers.Conv2D):
        h, w, c_out = layer.output.shape[1:]
        kh, kw = layer.kernel_size
        return h * w * kh * kw * layer.input.shape[-1] * c_out
    if isinstance(layer, keras.layers.Dense):
        return layer.input.shape[-1] * layer.units
    return 0


def forward_macs(model):
    """Multiply-accumulates of one sample's forward pass (Conv2D and Dense layers)."""
    return sum(layer_macs(layer) for layer in model._flatten_layers(include_self=False))


def first_layer_macs(model):
    """MACs of the layer that reads the network's input (its input gradient is never
    needed): the first layer after the InputLayer, inside nested models too."""
    layer = model.layers[1]
    return first_layer_macs(layer) if isinstance(layer, keras.Model) else layer_macs(layer)


FORMULATIONS = ("one_backward", "two_backward")


def step_flops(cfg, batch, formulation="one_backward"):
    """FLOPs of one BEGAN train step as ``formulation`` executes it (module docstring)."""
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation={formulation!r}; allowed: {FORMULATIONS}.")
    generator = began.build_generator(cfg)
    discriminator = began.build_discriminator(cfg)
    g, g1 = forward_macs(generator), first_layer_macs(generator)
    d, d1 = forward_macs(discriminator), first_layer_macs(discriminator)
    if formulation == "two_backward":
        macs = 3 * g - g1 + 7 * d - 2 * d1
    else:
        macs = 3 * g - g1 + 6 * d - d1
    return 2 * batch * macs


def make_data(size, channels, batch, autotune=False):
    """One fixed batch, repeated; tf.data autotuning off as in tfbegan.data.pipeline (its
    optimisation thread could hold the end of each fit() call; --autotune)."""
    x = np.random.RandomState(0).uniform(-1, 1, (batch, size, size, channels))
    ds = tf.data.Dataset.from_tensors(x.astype("float32")).repeat()
    return ds if autotune else ds.with_options(data_lib.without_autotune(tf.data.Options()))


class FitPath:
    """BEGAN trained with model.fit()."""

    name = "fit"
    formulation = "one_backward"

    def __init__(self, cfg, dataset, args, jit_compile=None):
        self.model = BEGAN(image_size=cfg.image_size, channels=cfg.channels,
                                   filters=cfg.filters, z_dim=cfg.z_dim, h_dim=cfg.h_dim)
        jit = {"auto": "auto", "true": True, "false": False}[
            jit_compile or args.jit_compile]
        self.model.compile(**self.model.make_optimizers(args.lr, 0.5), jit_compile=jit,
                           steps_per_execution=args.steps_per_execution)
        self.dataset = dataset

    @property
    def jit_compile(self):
        return bool(self.model.jit_compile)

    def run(self, steps):
        history = self.model.fit(self.dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        return history.history["loss_real"][-1]


class LoopPath:
    """The same networks, losses, optimizers and k update in a bare tf.function,
    with one backward pass per network (the fixed yardstick)."""

    name = "loop"
    formulation = "two_backward"

    def __init__(self, cfg, dataset, args, jit_compile, seed=0):
        self.cfg = cfg
        self.seed = seed
        self.generator = began.build_generator(cfg)
        self.discriminator = began.build_discriminator(cfg)
        self.d_opt = keras.optimizers.Adam(args.lr, beta_1=0.5)
        self.g_opt = keras.optimizers.Adam(args.lr, beta_1=0.5)
        self.d_opt.build(self.discriminator.trainable_variables)
        self.g_opt.build(self.generator.trainable_variables)
        self.k = tf.Variable(cfg.k_init, trainable=False, dtype=tf.float32)
        self.iterator = iter(dataset)
        # As fit does: XLA compiles the step on a batch; the iterator read stays
        # outside (XLA has no IteratorGetNext kernel).
        self.update_fn = tf.function(self._update, jit_compile=jit_compile,
                                     reduce_retracing=True)
        self.step_fn = tf.function(self._step, reduce_retracing=True)

    def _loss(self, v, recon):
        return tf.reduce_mean(tf.abs(v - recon))

    def _step(self, iterator):
        return self.update_fn(next(iterator))

    def _update(self, x):
        z = priors.sample("uniform", tf.shape(x)[0], self.cfg.z_dim, self.seed,
                          self.d_opt.iterations)
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator(z, training=True)
            loss_real = self._loss(x, self.discriminator(x, training=True))
            loss_fake = self._loss(fake, self.discriminator(fake, training=True))
            d_loss = loss_real - self.k * loss_fake
        d_grads = tape.gradient(d_loss, d_vars)
        g_grads = tape.gradient(loss_fake, g_vars)
        del tape
        self.d_opt.apply_gradients(zip(d_grads, d_vars, strict=True))
        self.g_opt.apply_gradients(zip(g_grads, g_vars, strict=True))
        self.k.assign(equilibrium.proportional_update(
            self.k, loss_real, loss_fake, self.cfg.gamma, self.cfg.lambda_k))
        return {"loss_real": loss_real,
                "m_global": equilibrium.m_global(loss_real, loss_fake, self.cfg.gamma)}

    def run(self, steps):
        out = None
        for _ in range(steps):
            out = self.step_fn(self.iterator)
        return float(out["loss_real"])  # blocks until the last step is done


def timed(path, steps):
    """(wall seconds, process CPU seconds) of ``steps`` steps.

    CPU time is reported too because on a shared, oversubscribed machine the wall
    time mostly measures waiting for a core.
    """
    start, cpu_start = time.perf_counter(), time.process_time()
    path.run(steps)
    return time.perf_counter() - start, time.process_time() - cpu_start


def build(args, configs):
    """(paths per configuration, FLOPs per (size, n, formulation)), warmed up."""
    setups, flops = {}, {}
    previous_policy = keras.mixed_precision.global_policy()
    for size, n, dtype, jit in configs:
        cfg = ModelConfig(image_size=size, channels=args.channels, filters=n, z_dim=64,
                          h_dim=64)
        for form in FORMULATIONS:
            flops[size, n, form] = (flops.get((size, n, form))
                                    or step_flops(cfg, args.batch, form))
        data = make_data(size, args.channels, args.batch, args.autotune)
        # Layers read the global policy when they are built.
        keras.mixed_precision.set_global_policy(DTYPES[dtype])
        try:
            fit = FitPath(cfg, data, args, jit_compile=jit)
            loop = LoopPath(cfg, data, args, jit_compile=fit.jit_compile)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        for path in (fit, loop):
            path.run(args.warmup)  # tracing + first executions
        setups[(size, n, dtype, jit)] = (fit, loop)
    return setups, flops


def measure(args, configs, setups):
    """Interleaved rounds: (wall seconds, CPU seconds), each per config and path name."""
    seconds = {key: {"fit": [], "loop": []} for key in configs}
    cpu = {key: {"fit": [], "loop": []} for key in configs}
    for r in range(args.rounds):
        for key in configs:
            order = setups[key] if r % 2 == 0 else setups[key][::-1]
            for path in order:
                wall, cpu_s = timed(path, args.steps)
                seconds[key][path.name].append(wall)
                cpu[key][path.name].append(cpu_s)
                print(f"# round {r} {key} {path.name}: {1000 * wall / args.steps:.1f} "
                      f"ms/step wall, {1000 * cpu_s / args.steps:.1f} ms/step CPU",
                      file=sys.stderr, flush=True)
    return seconds, cpu


def report(args, key, setups, flops, seconds, cpu, device):
    """Prints one configuration's JSON lines: one per path, then the fit/loop ratio."""
    size, n, dtype, _ = key
    fit, _ = setups[key]
    common = dict(image_size=size, filters=n, batch=args.batch, steps=args.steps,
                  channels=args.channels, rounds=args.rounds, device=device,
                  jit_compile=fit.jit_compile,
                  steps_per_execution=args.steps_per_execution, dtype=dtype)
    ceiling = args.ceiling_bfloat16 if dtype == "bfloat16" else args.ceiling_float32
    for path in setups[key]:
        name = path.name
        gflop = flops[size, n, path.formulation] / 1e9
        secs = statistics.median(seconds[key][name])
        achieved = gflop * args.steps / secs
        print(json.dumps({**common, "path": name, "formulation": path.formulation,
                          "gflop_per_step": round(gflop, 2),
                          "achieved_gflops": round(achieved, 2),
                          "ceiling_gflops": ceiling,
                          "fraction_of_ceiling": round(achieved / ceiling, 3),
                          "images_per_sec": round(args.batch * args.steps / secs, 2),
                          "ms_per_step": round(1000 * secs / args.steps, 2),
                          "ms_per_step_rounds": [round(1000 * s / args.steps, 2)
                                                 for s in seconds[key][name]],
                          "cpu_ms_per_step": round(1000 * statistics.median(
                              cpu[key][name]) / args.steps, 2)}))
    # Throughput ratio fit/loop = loop time / fit time, per round (interleaved).
    ratios = [lp / f for f, lp in zip(seconds[key]["fit"], seconds[key]["loop"], strict=True)]
    cpu_ratios = [lp / f for f, lp in zip(cpu[key]["fit"], cpu[key]["loop"], strict=True)]
    print(json.dumps({**common, "path": "fit/loop",
                      "throughput_ratio": round(statistics.median(ratios), 3),
                      "ratio_rounds": [round(q, 3) for q in ratios],
                      "cpu_ratio": round(statistics.median(cpu_ratios), 3),
                      "cpu_ratio_rounds": [round(q, 3) for q in cpu_ratios]}))


def main(argv=None):
    args = parse_args(argv)
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    configs = [(s, n, d, j) for s in args.sizes for n in args.filters
               for d in args.dtypes for j in args.jit_modes]
    setups, flops = build(args, configs)
    seconds, cpu = measure(args, configs, setups)
    for key in configs:
        report(args, key, setups, flops, seconds, cpu, device)


if __name__ == "__main__":
    main()

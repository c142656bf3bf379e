"""Scores training checkpoints the way the per-family presets are judged.

One JSON line per checkpoint: the digit classifier's view of ``--num`` samples of the
generator (share named with confidence > 0.9, class histogram in percent, classes
drawn by at least 3 %), FID / KID / IS / MS-SSIM from ``tfbegan.evaluation.sample_quality``, and for
models with an encoder the reconstruction agreement: the share of ``--num`` real
digits whose reconstruction ``G(E(x))`` gets the same classifier label as ``x``.

    python benchmarks/score_presets.py RUN/checkpoints/ckpt-00001000.keras [...] \
        [--num=1000] [--grid=samples.png] [--recon_grid=recon.png]

Generated images are ``model.generate(num, seed=0)`` clipped to [-1, 1] (the
samples ``tfbegan-evaluate`` scores); real images are the seeded ``mnist5k`` choice
of ``tfbegan.evaluation.real_images.load_real_images``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfbegan import imaging
from tfbegan.data import real_images
from tfbegan.evaluation import sample_quality
from tfbegan.evaluation.features import DigitClassifier
from tfbegan.training.checkpoints import load_checkpoint

CONFIDENT = 0.9
CLASS_FLOOR = 0.03


def batched(fn, x, batch=250):
    return np.concatenate([np.asarray(fn(x[i:i + batch]), np.float32)
                           for i in range(0, len(x), batch)])


def reconstruct_fn(model):
    """``G(E(x))`` in inference mode: BiGAN / AGE ``reconstruct``, VAE+BEGAN ``G(mu)``."""
    if hasattr(model, "reconstruct_vae"):
        return model.reconstruct_vae
    if getattr(model, "has_encoder", False):
        return model.reconstruct
    return None


def classifier_summary(probs):
    labels = probs.argmax(-1)
    hist = np.bincount(labels, minlength=10) / len(labels)
    return {"confident_share": float((probs.max(-1) > CONFIDENT).mean()),
            "class_histogram": [round(100 * float(h), 1) for h in hist],
            "classes_3pct": int((hist >= CLASS_FLOOR).sum())}


def score(path, classifier, real, num, grid=None, recon_grid=None):
    model, state = load_checkpoint(path, compile=False)
    gen = np.clip(batched(lambda z: model.generate(z), np.asarray(
        model.sample_z(num, seed=0), np.float32)), -1.0, 1.0)
    probs = classifier.probabilities(gen)
    report = {"checkpoint": path, "step": int(state.get("step", -1)),
              "model": type(model).__name__}
    report.update(classifier_summary(probs))
    metrics = sample_quality.evaluate_images(gen, real, classifier, kid_subset_size=500)
    report.update({k: metrics[k] for k in ("fid", "kid", "is", "is_real",
                                           "ms_ssim_generated", "ms_ssim_real")})
    if grid:
        imaging.save_grid(grid, gen[:100], scale=2)
    recon = reconstruct_fn(model)
    if recon is not None:
        rec = np.clip(batched(recon, real), -1.0, 1.0)
        agree = classifier.probabilities(rec).argmax(-1) == \
            classifier.probabilities(real).argmax(-1)
        report["recon_agreement"] = float(agree.mean())
        report["recon_l1"] = float(np.abs(rec - real).mean())
        if recon_grid:
            # Pairs of rows: ten real digits above their G(E(x)), four times.
            pick = np.arange(40)
            tiles = []
            for start in range(0, 40, 10):
                tiles += [real[pick[start:start + 10]], rec[pick[start:start + 10]]]
            imaging.save_grid(recon_grid, np.concatenate(tiles), rows=8, scale=2)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--num", type=int, default=1000)
    parser.add_argument("--grid", default=None, help="PNG of 100 samples (last checkpoint)")
    parser.add_argument("--recon_grid", default=None,
                        help="PNG of real digits above G(E(x)) (last checkpoint)")
    args = parser.parse_args(argv)
    classifier = DigitClassifier.load_or_train()
    real = real_images.load_real_images("mnist5k", args.num, 32, 1)
    for i, path in enumerate(args.checkpoints):
        last = i == len(args.checkpoints) - 1
        print(json.dumps(score(path, classifier, real, args.num,
                               args.grid if last else None,
                               args.recon_grid if last else None)), flush=True)


if __name__ == "__main__":
    main()

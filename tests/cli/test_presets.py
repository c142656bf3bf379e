"""The per-family presets (flags/mnist5k_*.flags) train from scratch and meet the
numbers docs/models.md records for them (docs/models.md).

Each test runs ``tfbegan-train --flagfile=...`` in a fresh work directory (minutes on
a 2-core CPU, hence ``large``), then scores the last checkpoint with
``benchmarks/score_presets.py``: 1,000 samples named by the digit classifier
(share with confidence > 0.9, classes drawn by >= 3 %), digit-classifier FID, and for
the encoder models the share of 1,000 real digits whose ``G(E(x))`` keeps its class.
The bounds are the issue's targets (>= 50 % confident, every class >= 3 %, FID <= 20,
agreement >= 60 % for the encoder models), which every preset meets
(docs/models.md has the measured values and margins).
"""

import os
import subprocess
import sys

import pytest
from repo_files import load_script

from tfbegan.data import real_images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
       "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}

#: flagfile -> bounds on the last checkpoint's scores (docs/models.md).
#: min_confident: share named with confidence > 0.9; min_classes: digit classes
#: drawn by >= 3 % of the samples; max_fid: digit-classifier FID;
#: min_recon_agreement: classifier agreement between x and G(E(x)).
PRESETS = {
    # Measured (docs/models.md): 67 % confident, 10 classes (the rarest, "2", 5.1 %),
    # FID 10.4 (seed 0, the flagfile's; --seed=1: 67 %, rarest 4.0 %, FID 13.4). The
    # issue's targets: 50 %, 10 classes, FID 20.
    "mnist5k_began.flags": dict(min_confident=0.5, min_classes=10, max_fid=20.0),
    # With G's skip connection: 70 %, 10 classes (the rarest, "2", 4.8 %), FID 15.1
    # at step 5,000 (FID 22.8 / 19.1 / 17.1 at steps 3,500 / 4,000 / 4,500, every
    # class >= 3.5 %): the targets.
    "mnist5k_began_iqa.flags": dict(min_confident=0.5, min_classes=10, max_fid=20.0),
    # 76 %, 10 classes (the rarest, "6", 7.1 %), FID 8.5: the targets.
    "mnist5k_denoising_began.flags": dict(min_confident=0.5, min_classes=10,
                                          max_fid=20.0),
    # 54 %, 10 classes (the rarest, "1", 5.8 %), FID 11.8, reconstruction agreement
    # 97 %: the targets (50 %, 10 classes, FID 20, agreement 60 %).
    "mnist5k_vae_began.flags": dict(min_confident=0.5, min_classes=10, max_fid=20.0,
                                    min_recon_agreement=0.6),
    # 64 %, 10 classes (the rarest, "7", 8.2 %), FID 4.2, agreement 76 % at step
    # 3,000 (seeds 1, 2: 61 / 64 %, FID 3.6 / 5.5, agreement 78 / 70 %): the
    # issue's targets. The agreement moved 63-88 % between checkpoints.
    "mnist5k_bigan.flags": dict(min_confident=0.5, min_classes=10, max_fid=20.0,
                                min_recon_agreement=0.6),
    # 57 %, 10 classes (the rarest, "6", 7.8 %), FID 6.2, agreement 95 % at step
    # 3,000 (seeds 1, 2: 55 / 56 %, FID 6.3 / 6.7, agreement 92 / 87 %): the
    # issue's targets.
    "mnist5k_age.flags": dict(min_confident=0.5, min_classes=10, max_fid=20.0,
                              min_recon_agreement=0.6),
}


def _scorer():
    return load_script(os.path.join("benchmarks", "score_presets.py"), "score_presets")


@pytest.mark.large
@pytest.mark.parametrize("flagfile", sorted(PRESETS))
def test_preset_meets_its_numbers(tmp_path, flagfile):
    work = str(tmp_path / "run")
    r = subprocess.run(
        [sys.executable, "-m", "tfbegan.cli.train",
         f"--flagfile={os.path.join(REPO, 'flags', flagfile)}", f"--workdir={work}",
         f"--export_base={tmp_path / 'export'}"],
        capture_output=True, text=True, timeout=1800, env=ENV, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    from tfbegan.evaluation.features import DigitClassifier
    from tfbegan.training import checkpoints

    scorer = _scorer()
    classifier = DigitClassifier.load_or_train()
    real = real_images.load_real_images("mnist5k", 1000, 32, 1)
    report = scorer.score(checkpoints.latest_checkpoint(work), classifier, real, 1000)
    bounds = PRESETS[flagfile]
    assert report["confident_share"] >= bounds["min_confident"], report
    assert report["classes_3pct"] >= bounds["min_classes"], report
    assert report["fid"] <= bounds["max_fid"], report
    if "min_recon_agreement" in bounds:
        assert report["recon_agreement"] >= bounds["min_recon_agreement"], report

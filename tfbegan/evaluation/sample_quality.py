"""Sample-quality reports: FID, KID, Inception Score and MS-SSIM diversity of
generated images against real ones.

:func:`evaluate_images` combines the metrics of :mod:`tfbegan.evaluation.metrics` (FID, Heusel
et al. 2017; KID, Binkowski et al. 2018; IS, Salimans et al. 2016; MS-SSIM, Odena et
al. 2017) over a feature network of :mod:`tfbegan.evaluation.features`;
:class:`tfbegan.callbacks.QualityEvaluator` runs it during training and
``tfbegan-evaluate`` prints it as one JSON line.
"""

from __future__ import annotations

import numpy as np

from tfbegan.evaluation.features import (
    describe,
)
from tfbegan.evaluation.metrics import (
    fid,
    inception_score,
    kid,
    ms_ssim_diversity,
)

#: Confidence above which a sample counts as "named" by the classifier
#: (``confident_share``); real embedded digits: ~94% with the digit classifier.
CONFIDENCE_THRESHOLD = 0.9

#: Class histograms are reported for classifiers with at most this many classes
#: (the digit classifier's 10; not InceptionV3's 1,000).
MAX_HISTOGRAM_CLASSES = 20


def classifier_summary(probabilities, threshold=CONFIDENCE_THRESHOLD):
    """How a classifier names a set of samples.

    Args:
      probabilities: ``[N, C]`` class probabilities of N samples.
      threshold: confidence a sample's top class must exceed.

    Returns:
      ``{"confident_share": share of samples whose top probability is > threshold,
      "class_histogram": [share of samples whose top class is c for c in 0..C-1]}``
      (plain floats; the histogram sums to 1).
    """
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probabilities must have shape [N > 0, C], got {p.shape}.")
    top = p.argmax(axis=1)
    counts = np.bincount(top, minlength=p.shape[1])
    return {"confident_share": float(np.mean(p.max(axis=1) > threshold)),
            "class_histogram": [float(c) / len(p) for c in counts]}


def evaluate_images(generated, real, feature_network, kid_subsets=100,
                    kid_subset_size=1000, is_splits=10, ms_ssim_pairs=500, seed=0,
                    batch_size=100, real_cache=None):
    """FID, KID, IS (when the network has probabilities) and MS-SSIM diversity.

    Args:
      generated, real: ``[N, H, W, C]`` images in [-1, 1] (same H, W, C).
      feature_network: a :class:`FeatureNetwork`.
      real_cache: optional dict; the real images' features and MS-SSIM are stored
        there and reused on later calls (the training callback's fixed real set).

    Returns:
      A JSON-serialisable dict: ``fid``, ``kid``, ``kid_std``, ``is``, ``is_std``
      (IS of the generated images; omitted without probabilities), ``is_real``
      (IS of the real images in a seeded random order, since real sets are often
      sorted by class, which would put one class in each split),
      ``confident_share`` and, for classifiers with at most
      :data:`MAX_HISTOGRAM_CLASSES` classes, ``class_histogram``
      (:func:`classifier_summary` of the generated images' probabilities),
      ``ms_ssim_generated``, ``ms_ssim_real``, ``num_generated``, ``num_real``,
      ``feature_network`` (name) and ``feature_network_detail``.
    """
    generated = np.asarray(generated, np.float32)
    real = np.asarray(real, np.float32)
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"generated images {generated.shape[1:]} and real images "
                         f"{real.shape[1:]} differ in shape.")
    cache = real_cache if real_cache is not None else {}
    if "features" not in cache:
        cache["features"], real_p = feature_network.features_and_probabilities(
            real, batch_size)
        cache["ms_ssim"] = ms_ssim_diversity(real, ms_ssim_pairs, seed + 1)
        if real_p is not None:
            order = np.random.default_rng(seed).permutation(len(real_p))
            cache["is"] = inception_score(real_p[order], min(is_splits, len(real_p)))[0]
    gen_f, gen_p = feature_network.features_and_probabilities(generated, batch_size)
    kid_mean, kid_std = kid(gen_f, cache["features"], kid_subsets, kid_subset_size, seed)
    report = {
        "fid": fid(gen_f, cache["features"]),
        "kid": kid_mean,
        "kid_std": kid_std,
    }
    if gen_p is not None:
        report["is"], report["is_std"] = inception_score(
            gen_p, min(is_splits, len(gen_p)))
        report["is_real"] = cache["is"]
        summary = classifier_summary(gen_p)
        report["confident_share"] = summary["confident_share"]
        if len(summary["class_histogram"]) <= MAX_HISTOGRAM_CLASSES:
            report["class_histogram"] = summary["class_histogram"]
    report.update({
        "ms_ssim_generated": ms_ssim_diversity(generated, ms_ssim_pairs, seed),
        "ms_ssim_real": cache["ms_ssim"],
        "num_generated": int(len(generated)),
        "num_real": int(len(real)),
        "feature_network": feature_network.name,
        "feature_network_detail": describe(feature_network),
    })
    return report



def collapse_warning(report, margin=0.2):
    """A message when generated MS-SSIM exceeds the real images' by more than
    ``margin`` (samples much more alike than data: toward mode collapse), else
    None."""
    gen, real = report["ms_ssim_generated"], report["ms_ssim_real"]
    if gen - real > margin:
        return (f"possible mode collapse: MS-SSIM of generated samples {gen:.3f} "
                f"exceeds that of real images {real:.3f} by more than {margin}")
    return None


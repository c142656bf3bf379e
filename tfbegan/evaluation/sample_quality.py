"""Sample-quality reports: FID, KID, SWD, precision/recall, Inception Score and
MS-SSIM diversity of generated images against real ones, and their real-vs-real floors.

:func:`evaluate_images` combines the metrics of :mod:`tfbegan.evaluation.metrics` (FID, Heusel
et al. 2017; KID, Binkowski et al. 2018; IS, Salimans et al. 2016; MS-SSIM, Odena et
al. 2017), :mod:`tfbegan.evaluation.swd` (SWD, Karras et al. 2018, on pixels) and
:mod:`tfbegan.evaluation.precision_recall` (Kynkäänniemi et al. 2019) over a feature
network of :mod:`tfbegan.evaluation.features`; :func:`real_floors` computes the same
distances between two disjoint real samples;
:class:`tfbegan.callbacks.QualityEvaluator` runs it during training and
``tfbegan-evaluate`` prints it as one JSON line.
"""

from __future__ import annotations

import numpy as np

from tfbegan.evaluation import precision_recall, swd
from tfbegan.evaluation.features import (
    describe,
)
from tfbegan.evaluation.metrics import (
    fid,
    inception_score,
    kid,
    ms_ssim_diversity,
)
from tfbegan.evaluation.precision_recall import DEFAULT_K

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


def _real_statistics(cache, real, feature_network, is_splits, ms_ssim_pairs, seed,
                     batch_size, swd_on):
    """Fills ``cache`` with the real set's features, MS-SSIM, IS and SWD descriptors
    (each once: a fixed real set is compared with many generated ones)."""
    if "features" not in cache:
        cache["features"], real_p = feature_network.features_and_probabilities(
            real, batch_size)
        cache["ms_ssim"] = ms_ssim_diversity(real, ms_ssim_pairs, seed + 1)
        if real_p is not None:
            order = np.random.default_rng(seed).permutation(len(real_p))
            cache["is"] = inception_score(real_p[order], min(is_splits, len(real_p)))[0]
    if swd_on and "swd" not in cache:
        cache["swd"] = swd.descriptor_sets(real, seed)


def _distances(features_a, features_b, desc_a, desc_b, kid_subsets, kid_subset_size,
               seed, precision_recall_on):
    """FID, KID, SWD (when descriptors are given) and precision/recall between two
    feature sets: the keys shared by :func:`evaluate_images` and :func:`real_floors`
    (``a`` plays the generated set, ``b`` the real one)."""
    kid_mean, kid_std = kid(features_a, features_b, kid_subsets, kid_subset_size, seed)
    report = {"fid": fid(features_a, features_b), "kid": kid_mean, "kid_std": kid_std}
    if desc_a is not None:
        report.update(swd.swd_from_descriptors(desc_a, desc_b, seed))
    # k-NN radii need more than k points in each set.
    if precision_recall_on and min(len(features_a), len(features_b)) > DEFAULT_K:
        report["precision"], report["recall"] = precision_recall.precision_recall(
            features_b, features_a)
    return report


def _classifier_keys(probabilities, feature_network, is_splits, is_real):
    """IS, the confident share and the class histogram (with class names) of the
    generated images' probabilities."""
    report = {}
    report["is"], report["is_std"] = inception_score(
        probabilities, min(is_splits, len(probabilities)))
    report["is_real"] = is_real
    summary = classifier_summary(probabilities)
    report["confident_share"] = summary["confident_share"]
    if len(summary["class_histogram"]) <= MAX_HISTOGRAM_CLASSES:
        report["class_histogram"] = summary["class_histogram"]
        names = getattr(feature_network, "class_names", None)
        if names:
            report["class_names"] = list(names)
    return report


def _checked_pair(generated, real):
    generated = np.asarray(generated, np.float32)
    real = np.asarray(real, np.float32)
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"generated images {generated.shape[1:]} and real images "
                         f"{real.shape[1:]} differ in shape.")
    return generated, real


def evaluate_images(generated, real, feature_network, kid_subsets=100,
                    kid_subset_size=1000, is_splits=10, ms_ssim_pairs=500, seed=0,
                    batch_size=100, real_cache=None, swd_on=True,
                    precision_recall_on=True):
    """FID, KID, SWD, precision/recall, IS (when the network has probabilities) and
    MS-SSIM diversity.

    Args:
      generated, real: ``[N, H, W, C]`` images in [-1, 1] (same H, W, C).
      feature_network: a :class:`FeatureNetwork`.
      real_cache: optional dict; the real images' features, MS-SSIM and SWD
        descriptors are stored there and reused on later calls (the training
        callback's fixed real set, :func:`real_floors`).
      swd_on, precision_recall_on: compute SWD / precision and recall.

    Returns:
      A JSON-serialisable dict: ``fid``, ``kid``, ``kid_std``; ``swd`` and
      ``swd_<size>`` per pyramid level (Karras et al. 2018, x 1e3,
      :mod:`tfbegan.evaluation.swd`); ``precision`` and ``recall`` (Kynkäänniemi et
      al. 2019, k = 3, in the feature network's space); ``is``, ``is_std`` (IS of
      the generated images; omitted without probabilities), ``is_real`` (IS of the
      real images in a seeded random order, since real sets are often sorted by
      class, which would put one class in each split), ``confident_share`` and, for
      classifiers with at most :data:`MAX_HISTOGRAM_CLASSES` classes,
      ``class_histogram`` (:func:`classifier_summary` of the generated images'
      probabilities; ``class_names`` when the network knows them),
      ``ms_ssim_generated``, ``ms_ssim_real``, ``num_generated``, ``num_real``,
      ``feature_network`` (name) and ``feature_network_detail``.
    """
    generated, real = _checked_pair(generated, real)
    cache = real_cache if real_cache is not None else {}
    _real_statistics(cache, real, feature_network, is_splits, ms_ssim_pairs, seed,
                     batch_size, swd_on)
    gen_f, gen_p = feature_network.features_and_probabilities(generated, batch_size)
    gen_desc = swd.descriptor_sets(generated, seed) if swd_on else None
    report = _distances(gen_f, cache["features"], gen_desc, cache.get("swd"),
                        kid_subsets, kid_subset_size, seed, precision_recall_on)
    if gen_p is not None:
        report.update(_classifier_keys(gen_p, feature_network, is_splits, cache["is"]))
    report.update({
        "ms_ssim_generated": ms_ssim_diversity(generated, ms_ssim_pairs, seed),
        "ms_ssim_real": cache["ms_ssim"],
        "num_generated": int(len(generated)),
        "num_real": int(len(real)),
        "feature_network": feature_network.name,
        "feature_network_detail": describe(feature_network),
    })
    return report


def real_floors(real, other_real, feature_network, kid_subsets=100,
                kid_subset_size=1000, seed=0, batch_size=100, real_cache=None,
                precision_recall_on=True):
    """The distances of :func:`evaluate_images` between two disjoint real samples:
    what a perfect generator would score at this ``num`` (FID and SWD are biased
    upward at small N, precision and recall below 1), to read each metric beside.

    ``other_real`` plays the generated set against ``real``, with the same seeds
    (so SWD uses the same neighbourhood centres and directions as the model's
    comparison); ``real_cache`` is :func:`evaluate_images`' cache of ``real``.

    Returns:
      ``{"<key>_floor": value}`` for ``fid``, ``kid``, ``kid_std``, ``swd``,
      ``swd_<size>``, ``precision``, ``recall``, and ``num_floor`` (images per set).
    """
    other_real, real = _checked_pair(other_real, real)
    cache = real_cache if real_cache is not None else {}
    if "features" not in cache:
        cache["features"] = feature_network.features(real, batch_size)
    if "swd" not in cache:
        cache["swd"] = swd.descriptor_sets(real, seed)
    other_f = feature_network.features(other_real, batch_size)
    report = _distances(other_f, cache["features"], swd.descriptor_sets(other_real, seed),
                        cache["swd"], kid_subsets, kid_subset_size, seed,
                        precision_recall_on)
    floors = {f"{k}_floor": v for k, v in report.items()}
    floors["num_floor"] = int(min(len(real), len(other_real)))
    return floors


def collapse_warning(report, margin=0.2):
    """A message when generated MS-SSIM exceeds the real images' by more than
    ``margin`` (samples much more alike than data: toward mode collapse), else
    None."""
    gen, real = report["ms_ssim_generated"], report["ms_ssim_real"]
    if gen - real > margin:
        return (f"possible mode collapse: MS-SSIM of generated samples {gen:.3f} "
                f"exceeds that of real images {real:.3f} by more than {margin}")
    return None


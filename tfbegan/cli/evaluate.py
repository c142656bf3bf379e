"""``tfbegan-evaluate``: sample quality of a generator as one JSON line.

    tfbegan-evaluate --train_classifier                 # once: the offline digit CNN
    tfbegan-evaluate --export_dir=export/began --dataset=mnist5k --num=1000
    tfbegan-evaluate --checkpoint=tfbegan_run --feature_net=digits
    tfbegan-evaluate --export_dir=export/celeba --dataset=folder:/data/celeba \\
        --feature_net=inception --inception_weights=/path/inception_v3.h5
    tfbegan-evaluate --export_dir=export/emoji --dataset=folder:/data/emoji \\
        --feature_net=keras --feature_model=emoji_classifier.keras
    tfbegan-evaluate --report=distances --run=tfbegan_run

Generates ``--num`` images from the model's prior (stateless, ``--seed``), draws
``--num`` real images from ``--dataset`` and prints FID, KID, precision and recall
(Kynkäänniemi et al. 2019) in the feature network's space, the sliced Wasserstein
distance of Laplacian-pyramid patches (Karras et al. 2018, pixels: any dataset), the
Inception Score (when the feature network has a classifier head), MS-SSIM diversity
of generated and of real images, and the feature network used
(tfbegan.evaluation.sample_quality). With the floors (default when the dataset holds
``2 x --num`` images) the same distances between the real images and the next
``--num`` real ones come beside them as ``<metric>_floor``.
``--feature_net=keras --feature_model=PATH`` uses any Keras classifier file's
penultimate layer (tfbegan.evaluation.keras_features).
``--feature_net=digits`` is a small CNN trained on the embedded MNIST digits: the
first evaluation on a machine trains it (offline, a few seconds) and caches it at
``--classifier_path``; ``--train_classifier`` retrains it. ``inception`` is
InceptionV3 with ImageNet weights from ``--inception_weights`` or the Keras cache.

``--report=distances --run=WORKDIR`` prints instead the IQA distance statistics
(Vertolli & Davies 2017, Table 2) logged by a training run
(``tfbegan.evaluation.iqa.distance_report``).
"""

from __future__ import annotations

import json
import logging

from absl import flags

from tfbegan.cli import common  # (before TensorFlow loads: quiets its start-up logs)
from tfbegan.data import real_images
from tfbegan.evaluation import features
from tfbegan.serving import loading

FLAGS = flags.FLAGS

FEATURE_NETS = ("digits", "inception", "keras")
REPORTS = ("quality", "distances")


FLAG_SPECS = (
    ("string", "dataset", "mnist5k", "Real images: mnist5k, folder:PATH or "
     "tfds:NAME[:SPLIT]."),
    ("string", "data_dir", None, "tfds data directory (never downloads)."),
    ("string", "crop", "center", "Crop of folder/tfds images: center or celeba."),
    ("integer", "num", 1000, "Generated images, and real images (at most)."),
    ("enum", "feature_net", "digits", "Feature network: digits (CNN trained on the "
     "embedded MNIST digits, offline), inception (InceptionV3, ImageNet weights) or "
     "keras (the .keras classifier at --feature_model: its penultimate layer).",
     {"enum_values": list(FEATURE_NETS)}),
    ("string", "feature_model", None, "With --feature_net=keras: a .keras classifier "
     "file whose output is class probabilities (e.g. from "
     "benchmarks/emoji_classifier.py)."),
    ("boolean", "floors", None, "Also report FID, KID, SWD and precision/recall between "
     "two disjoint real samples of --num images (<metric>_floor). Default: on when the "
     "dataset holds 2 x --num images (else a warning); --floors makes too few an "
     "error, --nofloors skips them."),
    ("string", "inception_weights", None, "Path of "
     "inception_v3_weights_tf_dim_ordering_tf_kernels.h5 (default: the Keras cache, "
     "~/.keras/models)."),
    ("boolean", "download_inception", False, "Let Keras download missing InceptionV3 "
     "weights."),
    ("string", "classifier_path", None, "Digit classifier file (default "
     "~/.cache/tfbegan/digit_classifier_<size>.keras; $TFBEGAN_CACHE overrides the "
     "folder)."),
    ("boolean", "train_classifier", False, "(Re)train the digit classifier on the "
     "embedded digits, save it to --classifier_path, then evaluate if a model is given "
     "(without it, the first evaluation trains and caches it)."),
    ("integer", "classifier_epochs", 3, "Epochs of the digit classifier's training."),
    ("integer", "classifier_image_size", 32, "Input size the digit classifier is "
     "trained at."),
    ("integer", "seed", 0, "Seed of the latents, the real-image choice and the metric "
     "subsets."),
    ("integer", "kid_subsets", 100, "KID: number of random subsets."),
    ("integer", "kid_subset_size", 500, "KID: subset size (capped at the set sizes; "
     "below --num so that subsets differ)."),
    ("integer", "is_splits", 10, "Inception Score: number of splits."),
    ("integer", "ms_ssim_pairs", 500, "MS-SSIM diversity: random pairs."),
    ("integer", "batch_size", 100, "Batch size of generation and features."),
    ("enum", "report", "quality", "quality: FID/KID/IS/MS-SSIM of a model; distances: "
     "the IQA distance report of a training run (--run).",
     {"enum_values": list(REPORTS)}),
    ("string", "run", None, "Training workdir for --report=distances."),
)


def define_flags(flag_values=FLAGS):
    """The evaluate flags, in ``flag_values`` (idempotent)."""
    common.define_flags_once(flag_values, "feature_net", FLAG_SPECS,
                             generator_source=True)


def _validate(f):
    if f.report == "distances":
        if not f.run:
            raise ValueError("--report=distances needs --run=WORKDIR.")
        return
    common.check_generator_source(f, alternative="train_classifier")
    if f.num < 2:
        raise ValueError(f"--num={f.num} must be >= 2.")
    for name in ("kid_subsets", "is_splits", "ms_ssim_pairs", "batch_size",
                 "classifier_epochs"):
        if getattr(f, name) < 1:
            raise ValueError(f"--{name}={getattr(f, name)} must be >= 1.")
    if f.feature_net == "keras" and not f.feature_model:
        raise ValueError("--feature_net=keras needs --feature_model=PATH (a .keras "
                         "classifier).")
    if f.feature_model and f.feature_net != "keras":
        raise ValueError(f"--feature_model={f.feature_model!r} is read only with "
                         f"--feature_net=keras (got --feature_net={f.feature_net}).")
    if f.kid_subset_size < 2:
        raise ValueError(f"--kid_subset_size={f.kid_subset_size} must be >= 2.")
    if not 8 <= f.classifier_image_size <= 256:
        raise ValueError(f"--classifier_image_size={f.classifier_image_size} must be "
                         f"in [8, 256].")


def feature_network(f):
    """The feature network the flags ask for (training the classifier if asked)."""

    if f.feature_net == "keras":
        from tfbegan.evaluation.keras_features import KerasClassifierFeatures

        return KerasClassifierFeatures(f.feature_model)
    if f.feature_net == "inception":
        return features.InceptionFeatures(weights=f.inception_weights,
                                            download=f.download_inception)
    if f.train_classifier:
        net = features.DigitClassifier.train(f.classifier_image_size,
                                               epochs=f.classifier_epochs,
                                               seed=f.seed)
        net.save(f.classifier_path)
        return net
    # First use on a machine: train (offline, a few seconds) and cache it.
    return features.DigitClassifier.load_or_train(f.classifier_path,
                                                    f.classifier_image_size,
                                                    epochs=f.classifier_epochs,
                                                    seed=f.seed)


def mismatch_warnings(feature_net, dataset, channels):
    """Warnings for a comparison whose numbers would mislead: digit features outside
    the digits, or a colour model against the grey digits."""
    messages = []
    if feature_net == "digits" and dataset != "mnist5k":
        messages.append(f"--feature_net=digits on --dataset={dataset}: the digit "
                        f"classifier's features mean little outside digits.")
    if dataset == "mnist5k" and channels == 3:
        messages.append("this model draws colour images and --dataset=mnist5k holds grey "
                        "digits: compare it with the images it was trained on "
                        "(--dataset=folder:PATH or tfds:NAME).")
    return messages


def draw_real(f, image_size, channels):
    """``(real, floor_real)``: the ``--num`` real images the model is compared with
    and, for the floors, the next ``--num`` of the source's seeded order (disjoint
    from the first; None without floors)."""
    want = f.floors is not False
    real = real_images.load_real_images(f.dataset, 2 * f.num if want else f.num,
                                        image_size, channels, f.seed, f.data_dir,
                                        f.crop)
    if want and len(real) < 2 * f.num:
        message = (f"the real-vs-real floors need 2 x --num={f.num} = {2 * f.num} "
                   f"images and --dataset={f.dataset} holds {len(real)}: pass "
                   f"--num={len(real) // 2} at most, or --nofloors.")
        if f.floors:
            raise ValueError(message)
        logging.getLogger("tfbegan").warning("no floors reported: %s", message)
        want = False
    return real[:f.num], (real[f.num:2 * f.num] if want else None)


def evaluate_model(f, network):
    """The JSON-serialisable report of the model the flags name."""
    import numpy as np

    from tfbegan.evaluation import sample_quality
    from tfbegan.models import priors

    generator, info = loading.load_generator(f.export_dir, f.checkpoint)
    for message in mismatch_warnings(f.feature_net, f.dataset, info["channels"]):
        logging.getLogger("tfbegan").warning("%s", message)
    real, floor_real = draw_real(f, info["image_size"], info["channels"])
    z = priors.sample(info["prior"], f.num, info["z_dim"], f.seed, 0)
    # Exports clip to [-1, 1]; clip checkpoint generators the same way.
    generated = np.clip(loading.generate(generator, z, f.batch_size), -1.0, 1.0)
    cache = {}  # the real set's features and SWD descriptors, shared with the floors
    report = sample_quality.evaluate_images(
        generated, real, network, kid_subsets=f.kid_subsets,
        kid_subset_size=f.kid_subset_size, is_splits=f.is_splits,
        ms_ssim_pairs=f.ms_ssim_pairs, seed=f.seed, batch_size=f.batch_size,
        real_cache=cache)
    if floor_real is not None:
        report.update(sample_quality.real_floors(
            real, floor_real, network, kid_subsets=f.kid_subsets,
            kid_subset_size=f.kid_subset_size, seed=f.seed, batch_size=f.batch_size,
            real_cache=cache))
    report.update({"dataset": f.dataset, "source": info["source"],
                   "step": info["step"]})
    if getattr(network, "path", None):
        report["feature_network_path"] = network.path
    return report


def _result(f):
    _validate(f)
    if f.report == "distances":
        from tfbegan.evaluation import iqa

        return iqa.distance_report(f.run)
    network = feature_network(f)
    if f.export_dir or f.checkpoint:
        return evaluate_model(f, network)
    return {"feature_network": network.name,
            "feature_network_detail": network.description,
            "classifier_path": network.path, "held_out_accuracy": network.accuracy}


def execute(f):
    """Runs the command for parsed flag values ``f``; prints one JSON line.

    User errors exit with status 1 and one ``error: ...`` line on stderr.
    """
    result = common.guarded(_result, f)
    print(json.dumps(result, sort_keys=True), flush=True)
    return result


main = common.command_main(execute, logging.WARNING)


def run():
    """Console-script entry point."""
    common.run_command(define_flags, execute, __doc__, logging.WARNING)


if __name__ == "__main__":
    run()

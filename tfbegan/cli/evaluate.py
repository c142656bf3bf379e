"""``tfbegan-evaluate``: sample quality of a generator as one JSON line.

    tfbegan-evaluate --train_classifier                 # once: the offline digit CNN
    tfbegan-evaluate --export_dir=export/began --dataset=mnist5k --num=1000
    tfbegan-evaluate --checkpoint=tfbegan_run --feature_net=digits
    tfbegan-evaluate --export_dir=export/celeba --dataset=folder:/data/celeba \\
        --feature_net=inception --inception_weights=/path/inception_v3_weights_tf_dim_ordering_tf_kernels.h5
    tfbegan-evaluate --report=distances --run=tfbegan_run

Generates ``--num`` images from the model's prior (stateless, ``--seed``), draws
``--num`` real images from ``--dataset`` and prints FID, KID, the Inception Score
(when the feature network has a classifier head), MS-SSIM diversity of generated
and of real images, and the feature network used (tfbegan.evaluation).
``--feature_net=digits`` is a small CNN trained on the embedded MNIST digits
(``--train_classifier`` trains and saves it once); ``inception`` is InceptionV3 with
ImageNet weights from ``--inception_weights`` or the Keras cache.

``--report=distances --run=WORKDIR`` prints instead the IQA distance statistics
(seed 000, Table 2) logged by a training run (``tfbegan.iqa.distance_report``).
"""

from __future__ import annotations

import json
import logging

from tfbegan.cli import common  # noqa: F401  (quiets TensorFlow first)

from absl import app, flags

FLAGS = flags.FLAGS

FEATURE_NETS = ("digits", "inception")
REPORTS = ("quality", "distances")


def define_flags():
    """The evaluate flags (idempotent)."""
    if "feature_net" in FLAGS:
        return
    flags.DEFINE_string("export_dir", None,
                        "SavedModel from tfbegan-export (a version directory or a model "
                        "base path: its newest version).")
    flags.DEFINE_string("checkpoint", None,
                        "Instead of --export_dir: a ckpt-<step>.keras file or a "
                        "tfbegan-train workdir (newest checkpoint).")
    flags.DEFINE_string("dataset", "mnist5k",
                        "Real images: mnist5k, folder:PATH or tfds:NAME[:SPLIT].")
    flags.DEFINE_string("data_dir", None, "tfds data directory (never downloads).")
    flags.DEFINE_string("crop", "center", "Crop of folder/tfds images: center or celeba.")
    flags.DEFINE_integer("num", 1000, "Generated images, and real images (at most).")
    flags.DEFINE_enum("feature_net", "digits", list(FEATURE_NETS),
                      "Feature network: digits (CNN trained on the embedded MNIST "
                      "digits, offline) or inception (InceptionV3, ImageNet weights).")
    flags.DEFINE_string("inception_weights", None,
                        "Path of inception_v3_weights_tf_dim_ordering_tf_kernels.h5 "
                        "(default: the Keras cache, ~/.keras/models).")
    flags.DEFINE_boolean("download_inception", False,
                         "Let Keras download missing InceptionV3 weights.")
    flags.DEFINE_string("classifier_path", None,
                        "Digit classifier file (default "
                        "~/.cache/tfbegan/digit_classifier_<size>.keras; $TFBEGAN_CACHE "
                        "overrides the folder).")
    flags.DEFINE_boolean("train_classifier", False,
                         "Train the digit classifier on the embedded digits and save it "
                         "to --classifier_path, then evaluate if a model is given.")
    flags.DEFINE_integer("classifier_epochs", 3, "Epochs of --train_classifier.")
    flags.DEFINE_integer("classifier_image_size", 32,
                         "Input size of the digit classifier it is trained at.")
    flags.DEFINE_integer("seed", 0, "Seed of the latents, the real-image choice and the "
                         "metric subsets.")
    flags.DEFINE_integer("kid_subsets", 100, "KID: number of random subsets.")
    flags.DEFINE_integer("kid_subset_size", 1000, "KID: subset size (capped at --num).")
    flags.DEFINE_integer("is_splits", 10, "Inception Score: number of splits.")
    flags.DEFINE_integer("ms_ssim_pairs", 500, "MS-SSIM diversity: random pairs.")
    flags.DEFINE_integer("batch_size", 100, "Batch size of generation and features.")
    flags.DEFINE_enum("report", "quality", list(REPORTS),
                      "quality: FID/KID/IS/MS-SSIM of a model; distances: the IQA "
                      "distance report of a training run (--run).")
    flags.DEFINE_string("run", None, "Training workdir for --report=distances.")


def _validate():
    if FLAGS.report == "distances":
        if not FLAGS.run:
            raise ValueError("--report=distances needs --run=WORKDIR.")
        return
    has_model = bool(FLAGS.export_dir or FLAGS.checkpoint)
    if FLAGS.export_dir and FLAGS.checkpoint:
        raise ValueError("pass only one of --export_dir and --checkpoint.")
    if not has_model and not FLAGS.train_classifier:
        raise ValueError("pass --export_dir=SAVEDMODEL (or --checkpoint=PATH), or "
                         "--train_classifier.")
    if FLAGS.num < 2:
        raise ValueError(f"--num={FLAGS.num} must be >= 2.")
    for name in ("kid_subsets", "is_splits", "ms_ssim_pairs", "batch_size",
                 "classifier_epochs"):
        if getattr(FLAGS, name) < 1:
            raise ValueError(f"--{name}={getattr(FLAGS, name)} must be >= 1.")
    if FLAGS.kid_subset_size < 2:
        raise ValueError(f"--kid_subset_size={FLAGS.kid_subset_size} must be >= 2.")
    if not 8 <= FLAGS.classifier_image_size <= 256:
        raise ValueError(f"--classifier_image_size={FLAGS.classifier_image_size} must be "
                         f"in [8, 256].")


def feature_network():
    """The feature network the flags ask for (training the classifier if asked)."""
    from tfbegan import evaluation

    if FLAGS.feature_net == "inception":
        return evaluation.InceptionFeatures(weights=FLAGS.inception_weights,
                                            download=FLAGS.download_inception)
    if FLAGS.train_classifier:
        net = evaluation.DigitClassifier.train(FLAGS.classifier_image_size,
                                               epochs=FLAGS.classifier_epochs,
                                               seed=FLAGS.seed)
        net.save(FLAGS.classifier_path)
        return net
    return evaluation.DigitClassifier.load(FLAGS.classifier_path,
                                           FLAGS.classifier_image_size)


def evaluate_model(network):
    """The JSON-serialisable report of the model the flags name."""
    import numpy as np

    from tfbegan import evaluation, latent, priors

    generator, info = latent.load_generator(FLAGS.export_dir, FLAGS.checkpoint)
    if FLAGS.feature_net == "digits" and FLAGS.dataset != "mnist5k":
        logging.getLogger("tfbegan").warning(
            "--feature_net=digits on --dataset=%s: the digit classifier's features "
            "mean little outside digits.", FLAGS.dataset)
    real = evaluation.load_real_images(FLAGS.dataset, FLAGS.num, info["image_size"],
                                       info["channels"], FLAGS.seed, FLAGS.data_dir,
                                       FLAGS.crop)
    z = priors.sample(info["prior"], FLAGS.num, info["z_dim"], FLAGS.seed, 0)
    # Exports clip to [-1, 1]; clip checkpoint generators the same way.
    generated = np.clip(latent.generate(generator, z, FLAGS.batch_size), -1.0, 1.0)
    report = evaluation.evaluate_images(
        generated, real, network, kid_subsets=FLAGS.kid_subsets,
        kid_subset_size=FLAGS.kid_subset_size, is_splits=FLAGS.is_splits,
        ms_ssim_pairs=FLAGS.ms_ssim_pairs, seed=FLAGS.seed, batch_size=FLAGS.batch_size)
    report.update({"dataset": FLAGS.dataset, "source": info["source"],
                   "step": info["step"]})
    if getattr(network, "path", None):
        report["feature_network_path"] = network.path
    return report


def main(argv):
    if len(argv) > 1:
        common.fail(f"unexpected arguments {argv[1:]}; flags look like --name=value.")
    common.setup_logging(logging.WARNING)
    try:
        _validate()
        if FLAGS.report == "distances":
            from tfbegan import iqa

            result = iqa.distance_report(FLAGS.run)
        else:
            network = feature_network()
            if FLAGS.export_dir or FLAGS.checkpoint:
                result = evaluate_model(network)
            else:
                result = {"feature_network": network.name,
                          "feature_network_detail": network.description,
                          "classifier_path": network.path,
                          "held_out_accuracy": network.accuracy}
    except common.USER_ERRORS + (OSError, KeyError) as e:
        common.fail(str(e) or type(e).__name__)
    print(json.dumps(result, sort_keys=True), flush=True)


def run():
    """Console-script entry point."""
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()

"""Attribute vectors and latent arithmetic (Khan et al. 2018, sec. 5.5)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_exports import export_tiny

from tfbegan.models import BEGAN, VAEBEGAN
from tfbegan.serving import attributes


def _toy_encode(images):
    """z = (mean pixel, max pixel): a toy encoder whose outputs are easy by hand."""
    x = tf.convert_to_tensor(images, tf.float32)
    return tf.stack([tf.reduce_mean(x, axis=[1, 2, 3]), tf.reduce_max(x, axis=[1, 2, 3])],
                    axis=1)


def _const(values, size=4):
    return np.stack([np.full((size, size, 1), v, np.float32) for v in values])


def test_attribute_vector_by_hand():
    with_attr = _const([0.5, 0.7])       # z = (0.5, 0.5), (0.7, 0.7) -> mean (0.6, 0.6)
    without = _const([-0.2, 0.0, 0.2])   # mean (0, 0)
    without[0, 0, 0, 0] = 1.0            # one bright pixel: mean -0.2 + 1.2/16, max 1
    # mean z without = ((-0.2 + 0.075 + 0 + 0.2) / 3, (1 + 0 + 0.2) / 3) = (0.025, 0.4)
    v = attributes.attribute_vector(_toy_encode, with_attr, without, batch_size=2)
    np.testing.assert_allclose(v, [0.6 - 0.025, 0.6 - 0.4], atol=1e-6)
    mask = np.array([True, False, False, True, False])
    images = np.concatenate([with_attr[:1], without[:2], with_attr[1:], without[2:]])
    v2 = attributes.attribute_vector_from_labels(_toy_encode, images, mask)
    np.testing.assert_allclose(v2, v, atol=1e-6)


def test_signature_like_encoder_with_keyword_input_and_dict_output():
    @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 1], tf.float32,
                                                name="images")])
    def encode_fn(images):
        return {"z": _toy_encode(images)}

    concrete = encode_fn.get_concrete_function()
    fn, shape = attributes.as_encode_fn(concrete)
    assert shape == (4, 4, 1)
    v = attributes.attribute_vector(concrete, _const([1.0]), _const([-1.0]))
    np.testing.assert_allclose(v, [2.0, 2.0], atol=1e-6)


def test_apply_attribute_scales():
    z = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    out = attributes.apply_attribute(z, np.array([1.0, -1.0]), [-2, 0, 0.5])
    assert out.shape == (2, 3, 2)
    np.testing.assert_allclose(out[1], [[0.0, 5.0], [2.0, 3.0], [2.5, 2.5]])


def test_bad_inputs():
    with pytest.raises(ValueError, match="with and without"):
        attributes.attribute_vector(_toy_encode, _const([1.0]), _const([1.0])[:0])
    with pytest.raises(ValueError, match="Black_Hair"):
        attributes.check_attribute("black_hair")
    with pytest.raises(ValueError, match="digit_0"):
        attributes.check_attribute("digit_12")

    began = BEGAN(image_size=8, channels=1, filters=2, z_dim=2, h_dim=2)
    with pytest.raises(ValueError, match="no encoder"):
        attributes.as_encode_fn(began)


def test_celeba_not_prepared_fails_fast(tmp_path):
    with pytest.raises(ValueError, match="CelebA is not available") as err:
        attributes.load_celeba_data("Smiling", 8, data_dir=str(tmp_path), download=False)
    # The flag that does it, as tfbegan-latent names it (not "download=True" alone).
    assert "tfbegan-latent --latent_download" in str(err.value)


def test_latent_help_examples_use_its_own_flag_names():
    import re

    from absl import flags

    from tfbegan.cli import latent

    fv = flags.FlagValues()
    latent.define_flags(fv)
    used = set(re.findall(r"--([a-z_]+)=", latent.__doc__))
    assert used and used <= set(fv), used - set(fv)


def test_digit_attribute_vector_with_model_encode():

    images, mask = attributes.load_attribute_data("digit_3", 8, 1, max_images=200)
    assert images.shape == (200, 8, 8, 1) and 10 <= mask.sum() <= 30
    assert images.min() >= -1.0 and images.max() <= 1.0
    keras.utils.set_random_seed(0)
    model = VAEBEGAN(image_size=8, channels=1, filters=2, repeats=1, z_dim=3,
                             h_dim=3)
    v = attributes.attribute_vector_from_labels(model, images, mask)
    z = model.encode(images).numpy()
    np.testing.assert_allclose(v, z[mask].mean(0) - z[~mask].mean(0), atol=1e-5)


@pytest.fixture(scope="module")
def exported_vae(tmp_path_factory):
    model, _, path = export_tiny(tmp_path_factory.mktemp("export"), "VAEBEGAN", 1,
                                 filters=2, z_dim=3, h_dim=3)
    return model, path


def test_saved_model_encode_signature_gives_model_vector(exported_vae):
    model, path = exported_vae
    loaded = tf.saved_model.load(path)
    images, mask = attributes.load_attribute_data("digit_7", 8, 1, max_images=100)
    v_saved = attributes.attribute_vector_from_labels(loaded, images, mask)
    v_model = attributes.attribute_vector_from_labels(model, images, mask)
    np.testing.assert_allclose(v_saved, v_model, atol=1e-5)


def test_latent_cli_writes_strip(exported_vae, tmp_path):
    from PIL import Image

    _, path = exported_vae
    out = os.path.join(tmp_path, "strip.png")
    cmd = [sys.executable, "-m", "tfbegan.cli.latent", f"--export_dir={path}",
           "--attribute=digit_3", "--attribute_weights=-2,-1,0,1,2", "--num=3", "--max_images=100",
           f"--out={out}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    # 3 rows x 5 columns of 8x8 tiles with 2-pixel padding.
    assert Image.open(out).size == (5 * 10 + 2, 3 * 10 + 2)


def test_latent_cli_bad_input_is_one_line(exported_vae, tmp_path, capsys):
    from absl import flags

    from tfbegan.cli import latent

    _, path = exported_vae
    fv = flags.FlagValues()
    latent.define_flags(fv)
    fv(["tfbegan-latent", f"--export_dir={path}", "--attribute=Not_An_Attribute",
        f"--out={tmp_path}/x.png"])
    with pytest.raises(SystemExit) as exit_info:
        latent.main(["tfbegan-latent"], fv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Not_An_Attribute" in err and len(err.strip().splitlines()) == 1
    # The old name of --attribute_weights still works, but not beside the new one.
    fv = flags.FlagValues()
    latent.define_flags(fv)
    fv(["tfbegan-latent", f"--export_dir={path}", "--attribute=digit_3", "--scale=1",
        "--attribute_weights=2"])
    with pytest.raises(SystemExit):
        latent.main(["tfbegan-latent"], fv)
    assert capsys.readouterr().err.strip() == (
        "error: --scale is the old name of --attribute_weights; pass only "
        "--attribute_weights.")
    with pytest.raises(ValueError, match="--attribute_weights entry 'x'"):
        latent.parse_scales(["1", "x"])


def test_draw_strip_scale_zero_column_is_base(exported_vae):
    from tfbegan.cli import latent
    from tfbegan.models import priors

    model, path = exported_vae
    images, v = latent.draw_strip(path, "digit_1", [0.0, 1.0], num=2, max_images=100)
    z = priors.sample("normal", 2, 3, 0, 0).numpy()
    # Rows are base latents, columns scales: column 0 is G(z), column 1 G(z + v).
    expect0 = np.clip(np.rint((np.clip(model.generate(z), -1, 1) + 1) * 127.5), 0, 255)
    expect1 = np.clip(np.rint((np.clip(model.generate(z + v), -1, 1) + 1) * 127.5), 0, 255)
    np.testing.assert_allclose(images[0::2].astype(float), expect0, atol=1)
    np.testing.assert_allclose(images[1::2].astype(float), expect1, atol=1)


def test_draw_strip_keeps_to_the_export_batch_cap(tmp_path):
    """Before: ``encode`` got batches of 64 and ``serving_default`` every row x scale
    at once (num * len(scales) latents), over a small ``max_batch`` export's cap."""
    from tfbegan.cli import latent
    from tfbegan.models import priors

    model, _, path = export_tiny(tmp_path, "VAEBEGAN", 1, max_batch=2, filters=2,
                                 z_dim=3, h_dim=3)
    images, v = latent.draw_strip(path, "digit_1", [0.0, 1.0, 2.0], num=3, max_images=100)
    assert images.shape == (9, 8, 8, 1)
    z = priors.sample("normal", 3, 3, 0, 0).numpy()
    expect = np.clip(np.rint((np.clip(model.generate(z + 2 * v), -1, 1) + 1) * 127.5), 0, 255)
    np.testing.assert_allclose(images[2::3].astype(float), expect, atol=1)


def test_latent_warns_when_the_labelled_images_are_not_the_models_kind(caplog):
    """Before: --attribute=digit_3 ran silently on an RGB model."""
    import logging

    from tfbegan.cli import latent

    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        latent._warn_if_other_data("digit_3", 1)
        latent._warn_if_other_data("Black_Hair", 3)
        assert not caplog.records
        latent._warn_if_other_data("digit_3", 3)
        latent._warn_if_other_data("Black_Hair", 1)
    assert [r.getMessage() for r in caplog.records] == [
        "--attribute=digit_3 is estimated from the embedded grey digits, but this model "
        "draws colour images: the direction found may mean nothing for it.",
        "--attribute=Black_Hair is estimated from CelebA's colour faces, but this model "
        "draws grey images: the direction found may mean nothing for it."]

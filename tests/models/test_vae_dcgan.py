"""VAE+BEGAN on the DCGAN-style networks (``VAEBEGAN(architecture="dcgan")``,
``--vae_architecture=dcgan``): the option the mnist5k VAE+BEGAN preset uses, off by
default (Khan et al. 2018's BEGAN backbone)."""

import os

import gan_checks as checks
import keras
import numpy as np
import pytest

from tfbegan.models.vae_began import VAEBEGAN

TINY = dict(image_size=32, channels=1, filters=2, repeats=1, z_dim=3, h_dim=4)


def _images(n=4, seed=0):
    return checks.images(n, seed, size=32)


def _layer_names(network):
    return {layer.name for layer in network.layers}


def test_default_is_the_paper_backbone():
    model = VAEBEGAN(**TINY)
    assert model.architecture == "began"
    assert "vae_encoder_to_h" in _layer_names(model.encoder)
    assert "vae_encoder_conv" not in _layer_names(model.encoder)
    assert "generator_fc0" not in _layer_names(model.generator)


def test_dcgan_networks_train_and_round_trip(tmp_path):
    keras.utils.set_random_seed(2)
    model = VAEBEGAN(**TINY, architecture="dcgan", seed=3)
    # E: D's DCGAN-style encoder (one stride-2 conv, a Dense) to 2 N_z, no batch norm.
    names = _layer_names(model.encoder)
    assert {"vae_encoder_conv", "vae_encoder_to_h"} <= names
    assert not any("bn" in n for n in names)
    assert model.encoder.output.shape[-1] == 2 * TINY["z_dim"]
    assert "generator_fc0" in _layer_names(model.generator)
    assert "encoder_conv" in _layer_names(model.discriminator_encoder)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    model.fit(_images(), batch_size=4, epochs=2, verbose=0)
    assert model.get_config()["architecture"] == "dcgan"
    path = os.path.join(tmp_path, "vae_dcgan.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.architecture == "dcgan"
    x = _images(2, seed=1)
    np.testing.assert_allclose(np.asarray(loaded.reconstruct_vae(x)),
                               np.asarray(model.reconstruct_vae(x)), atol=1e-5)


@pytest.mark.parametrize("args, expected", [
    ([], "began"), (["--vae_architecture=dcgan"], "dcgan")])
def test_flag(args, expected):
    from absl import flags

    from tfbegan.cli import flags_vae_began

    fv = flags.FlagValues()
    flags_vae_began.define_flags(fv)
    fv(["prog", *args])
    kwargs = flags_vae_began.model_kwargs(fv)
    assert kwargs["architecture"] == expected

"""DCGAN-style networks of the encoder models, BiGAN and AGE (``architecture="dcgan"``).

Berthelot et al. 2017's backbone is what BiGAN and AGE use by default; on a CPU it is
slow, and neither paper uses it: Donahue et al. 2017 and Ulyanov et al. 2018 both
train DCGAN-style networks (Radford et al. 2016). With ``architecture="dcgan"``:

* G is BEGAN's DCGAN-style generator (:func:`tfbegan.networks.began.build_dcgan_generator`:
  dense layers with batch norm, two stride-2 transposed convolutions, tanh).
* The image stack shared by E and BiGAN's D is a DCGAN discriminator's: two stride-2
  4x4 convolutions (n, then 2n filters), each followed by a leaky ReLU (slope 0.2),
  with batch norm after the second when ``batch_norm`` is set (none after the first,
  as in DCGAN), flattened.
* E: the image stack, a Dense(32 n) hidden layer (batch norm with ``batch_norm``)
  and leaky ReLU, a linear Dense to ``out_dim`` in float32; the model adds its own
  output map (BiGAN's tanh, AGE's projection onto the sphere). The BiGAN paper's
  MNIST encoder has such a hidden fully connected layer; 32 n mirrors G's first
  layer.
* BiGAN's D(x, z): the image stack (no batch norm: D sees real and generated pairs
  in separate batches, and batch statistics would tell them apart) to a Dense
  ``units`` leaky ReLU feature; z to its own Dense ``units`` leaky ReLU; both
  concatenated, one joint Dense ``units`` leaky ReLU and a logit, with dropout on
  the joint input and hidden layer when ``dropout > 0`` (ALI-style).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from tfbegan.networks.began import build_encoder, image_input

if TYPE_CHECKING:  # annotations only: networks do not import models
    from tfbegan.models.config import ModelConfig

#: Leaky ReLU slope of DCGAN discriminators (Radford et al. 2016).
LEAK = 0.2


def _leaky(x, name):
    return keras.layers.LeakyReLU(negative_slope=LEAK, name=name)(x)


def _dense_leaky(x, units, name, batch_norm=False):
    x = keras.layers.Dense(units, use_bias=not batch_norm, name=name)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return _leaky(x, f"{name}_lrelu")


def apply_dcgan_image_stack(images, config: ModelConfig, name: str, batch_norm: bool):
    """Two stride-2 4x4 convolutions (n, 2n) with leaky ReLUs, flattened."""
    n = config.filters
    x = keras.layers.Conv2D(n, 4, strides=2, padding="same", name=f"{name}_conv0")(images)
    x = _leaky(x, f"{name}_conv0_lrelu")
    x = keras.layers.Conv2D(2 * n, 4, strides=2, padding="same", use_bias=not batch_norm,
                            name=f"{name}_conv1")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_conv1_bn")(x)
    x = _leaky(x, f"{name}_conv1_lrelu")
    return keras.layers.Flatten(name=f"{name}_flatten")(x)


def build_dcgan_vector_encoder(config: ModelConfig, out_dim: int,
                               name: str = "encoder_net") -> keras.Model:
    """E's body: image -> image stack -> Dense(32 n) -> leaky ReLU -> Dense(out_dim)."""
    images = image_input(config)
    x = apply_dcgan_image_stack(images, config, name, config.batch_norm)
    x = _dense_leaky(x, 32 * config.filters, f"{name}_fc", config.batch_norm)
    out = keras.layers.Dense(out_dim, name=f"{name}_out", dtype="float32")(x)
    return keras.Model(images, out, name=name)


def build_dcgan_joint_discriminator(config: ModelConfig, units: int,
                                    name: str = "discriminator",
                                    dropout: float = 0.0) -> keras.Model:
    """BiGAN's D(x, z) -> logit on the DCGAN-style image stack (module docstring)."""
    images = image_input(config)
    z = keras.Input((config.z_dim,), name="z")
    hx = apply_dcgan_image_stack(images, config, f"{name}_image", batch_norm=False)
    hx = _dense_leaky(hx, units, f"{name}_image_fc")
    hz = _dense_leaky(z, units, f"{name}_z_fc")
    h = keras.layers.Concatenate(name=f"{name}_concat")([hx, hz])
    if dropout > 0:
        h = keras.layers.Dropout(dropout, name=f"{name}_drop_in")(h)
    h = _dense_leaky(h, units, f"{name}_joint")
    if dropout > 0:
        h = keras.layers.Dropout(dropout, name=f"{name}_drop_joint")(h)
    logit = keras.layers.Dense(1, name=f"{name}_logit", dtype="float32")(h)
    logit = keras.layers.Reshape((), name=f"{name}_squeeze")(logit)
    return keras.Model([images, z], logit, name=name)


def build_encoder_body(config: ModelConfig, out_dim: int,
                       name: str = "encoder_net") -> keras.Model:
    """image -> R^out_dim before the model's output map: BEGAN's encoder with its
    Dense to ``out_dim`` (Berthelot et al. 2017 sec. 3.5), or with
    ``architecture="dcgan"`` :func:`build_dcgan_vector_encoder`."""
    if config.architecture == "dcgan":
        return build_dcgan_vector_encoder(config, out_dim, name=name)
    return build_encoder(config.replace(h_dim=out_dim), name=name)

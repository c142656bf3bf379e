"""BEGAN encoder, decoder and generator builders (Berthelot et al. 2017, section 3.5, Figure 1).

* 3x3 convolutions, each followed by an ELU, repeated ``repeats`` times per scale.
* Filters grow linearly with each down-sampling: n, 2n, 3n, ...
* Down-sampling is a stride-2 3x3 convolution (sub-sampling, no pooling);
  up-sampling is nearest neighbour (no transposed convolutions).
* Between encoder and decoder the 8x8 cube maps to and from the hidden state
  h in R^{N_h} through fully connected layers with no non-linearity.
* The bottleneck is always 8x8, so 8, 16, ..., 256 px differ only in the number of
  scales: ``log2(image_size) - 2``.
* The generator has the decoder's architecture with its own weights.

Options of Li et al. 2018 (Fig. 3), both off by default (``ModelConfig``):

* ``batch_norm``: conv -> BatchNormalization -> ELU for the last (with the paper's
  ``repeats = 2``: the second) convolution of every scale block, in encoder, decoder
  and generator. The normalization sits before the non-linearity, as Li et al. 2018
  (sec. II-D) describe batch norm ("a normalization step ... before the
  nonlinearity"). The
  layers use synchronized statistics, so under ``MirroredStrategy`` the batch
  statistics are those of the global batch (N replicas behave as one device).
* ``skip_connections``: H0, the decoder's first 8x8xn tensor (after Dense +
  reshape), nearest-up-sampled to each scale and concatenated with the output of
  every up-sampling layer ("SC" in Li et al. 2018, Fig. 3; Berthelot et al. 2017
  sec. 4.1).

``architecture="dcgan"`` (``ModelConfig``) swaps in the much cheaper pair of public
MNIST BEGANs (DCGAN-style, Radford et al. 2016), about 4.5x the images per second of
the paper network at 32x32 on a CPU:

* D: one stride-2 4x4 convolution (2n filters) + ReLU, a Dense to h, a Dense back to
  (S/2)x(S/2)x2n + ReLU and one stride-2 4x4 transposed convolution to the image
  (no activation). With ``batch_norm`` both Dense layers are followed by batch
  norm and a ReLU (the public recipe); without, the code h is linear as in BEGAN.
* G: Dense to 32n, Dense to (S/4)x(S/4)x4n, a stride-2 4x4 transposed convolution
  to 2n, each followed by batch norm and a ReLU, and a second one to the image with
  a tanh. With ``skip_connections`` (not in the public recipe) G concatenates its H0,
  the (S/4)x(S/4)x4n tensor, nearest-up-sampled, with the output of the first
  transposed convolution (Li et al. 2018's "SC"); D's decoder has one up-sampling
  layer, its output, so it has no skip connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:  # annotations only: networks do not import models
    from tfbegan.models.config import ModelConfig


BOTTLENECK = 8


def image_input(config: ModelConfig) -> keras.KerasTensor:
    """The image input every network takes: ``[S, S, channels]``, named "images"."""
    return keras.Input((config.image_size, config.image_size, config.channels),
                       name="images")


def apply_conv_elu(x, filters, name, strides=1):
    """A 3x3 convolution followed by an ELU (the paper's only layer type)."""
    return keras.layers.Conv2D(
        filters, 3, strides=strides, padding="same", activation="elu", name=name
    )(x)


def apply_conv_bn_elu(x, filters, name):
    """3x3 convolution -> synchronized batch norm -> ELU (Li et al. 2018, Fig. 3).

    Layers are named ``name`` (the conv), ``name + "_bn"`` and ``name + "_elu"``.
    The convolution has no bias: batch norm subtracts the batch mean, so a bias
    would get a zero gradient up to round-off, which Adam would amplify into
    random steps (and replicas would differ); BN's beta is the shift.
    """
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    # synchronized=True: under MirroredStrategy the moments are all-reduced, so
    # two replicas with half batches normalize exactly like one device.
    x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return keras.layers.Activation("elu", name=f"{name}_elu")(x)


def apply_scale_block(x, filters, repeats, name, batch_norm=False):
    """``repeats`` x (3x3 conv + ELU) at one resolution.

    With ``batch_norm`` the block's last convolution (the second with the paper's
    two per block) is followed by batch norm before its ELU (Li et al. 2018, Fig. 3).
    """
    for r in range(repeats):
        if batch_norm and r == repeats - 1:
            x = apply_conv_bn_elu(x, filters, f"{name}_conv{r}")
        else:
            x = apply_conv_elu(x, filters, f"{name}_conv{r}")
    return x


def build_encoder(config: ModelConfig, name: str = "encoder") -> keras.Model:
    """Encoder: image [S, S, C] -> h [N_h] (Figure 1b).

    Scale i (0-based, from full resolution) works with (i + 1) * n filters; a
    stride-2 convolution to (i + 2) * n filters leads to the next scale.
    """
    n = config.filters
    inputs = image_input(config)
    x = apply_conv_elu(inputs, n, f"{name}_in")
    for i in range(config.num_scales):
        x = apply_scale_block(x, (i + 1) * n, config.repeats, f"{name}_s{i}",
                              batch_norm=config.batch_norm)
        if i < config.num_scales - 1:
            x = apply_conv_elu(x, (i + 2) * n, f"{name}_down{i}", strides=2)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    h = keras.layers.Dense(config.h_dim, name=f"{name}_to_h")(x)
    return keras.Model(inputs, h, name=name)


def build_decoder(config: ModelConfig, input_dim: int | None = None,
                  name: str = "decoder") -> keras.Model:
    """Decoder / generator: vector [input_dim] -> image [S, S, C] (Figure 1a).

    A Dense to 8x8xn (no activation), then per scale ``repeats`` x (conv + ELU)
    with n filters, nearest-neighbour up-sampling between scales, and a final 3x3
    convolution to ``channels`` with no activation.

    With ``config.skip_connections`` every up-sampled tensor (scale i >= 1, size
    8 * 2^i) is concatenated with H0 (the 8x8xn tensor after the Dense), up-sampled
    by 2^i with nearest neighbour: the block at scale i sees 2n channels (layers
    ``{name}_h0_up{i}`` and ``{name}_skip{i}``). With ``config.batch_norm`` each
    block ends in conv -> batch norm -> ELU.
    """
    n = config.filters
    input_dim = config.h_dim if input_dim is None else input_dim
    inputs = keras.Input((input_dim,), name="z" if name == "generator" else "h")
    x = keras.layers.Dense(BOTTLENECK * BOTTLENECK * n, name=f"{name}_from_h")(inputs)
    x = keras.layers.Reshape((BOTTLENECK, BOTTLENECK, n), name=f"{name}_reshape")(x)
    h0 = x
    for i in range(config.num_scales):
        if i > 0 and config.skip_connections:
            h0_up = keras.layers.UpSampling2D(2 ** i, interpolation="nearest",
                                              name=f"{name}_h0_up{i}")(h0)
            x = keras.layers.Concatenate(name=f"{name}_skip{i}")([x, h0_up])
        x = apply_scale_block(x, n, config.repeats, f"{name}_s{i}",
                              batch_norm=config.batch_norm)
        if i < config.num_scales - 1:
            x = keras.layers.UpSampling2D(2, interpolation="nearest",
                                          name=f"{name}_up{i}")(x)
    # The output layer stays float32 under mixed precision: losses and the k
    # update are computed on it.
    outputs = keras.layers.Conv2D(config.channels, 3, padding="same",
                                  name=f"{name}_out", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def apply_dense_bn_relu(x, units, name):
    """Dense -> synchronized batch norm -> ReLU (the DCGAN pair's hidden layers)."""
    x = keras.layers.Dense(units, use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def build_dcgan_encoder(config: ModelConfig, name: str = "encoder") -> keras.Model:
    """DCGAN-style encoder: image -> one stride-2 conv (2n) -> h (module docstring)."""
    n = config.filters
    inputs = image_input(config)
    x = keras.layers.Conv2D(2 * n, 4, strides=2, padding="same", activation="relu",
                            name=f"{name}_conv")(inputs)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    if config.batch_norm:
        h = apply_dense_bn_relu(x, config.h_dim, f"{name}_to_h")
    else:
        h = keras.layers.Dense(config.h_dim, name=f"{name}_to_h")(x)
    return keras.Model(inputs, h, name=name)


def build_dcgan_decoder(config: ModelConfig, name: str = "decoder") -> keras.Model:
    """DCGAN-style decoder: h -> (S/2)^2 x 2n -> one stride-2 transposed conv."""
    n, half = config.filters, config.image_size // 2
    inputs = keras.Input((config.h_dim,), name="h")
    if config.batch_norm:
        x = apply_dense_bn_relu(inputs, half * half * 2 * n, f"{name}_from_h")
    else:
        x = keras.layers.Dense(half * half * 2 * n, activation="relu",
                               name=f"{name}_from_h")(inputs)
    x = keras.layers.Reshape((half, half, 2 * n), name=f"{name}_reshape")(x)
    outputs = keras.layers.Conv2DTranspose(config.channels, 4, strides=2, padding="same",
                                           name=f"{name}_out", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_dcgan_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """DCGAN-style generator: z -> Dense 32n -> Dense (S/4)^2 x 4n -> two stride-2
    transposed convs (batch norm + ReLU between, tanh at the end); with
    ``skip_connections`` H0 joins the first one's output (module docstring)."""
    n, quarter = config.filters, config.image_size // 4
    inputs = keras.Input((config.z_dim,), name="z")
    x = apply_dense_bn_relu(inputs, 32 * n, f"{name}_fc0")
    x = apply_dense_bn_relu(x, quarter * quarter * 4 * n, f"{name}_fc1")
    x = keras.layers.Reshape((quarter, quarter, 4 * n), name=f"{name}_reshape")(x)
    h0 = x
    x = keras.layers.Conv2DTranspose(2 * n, 4, strides=2, padding="same", use_bias=False,
                                     name=f"{name}_up0")(x)
    x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_up0_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_up0_relu")(x)
    if config.skip_connections:
        # Li et al. 2018's "SC": H0 (the first (S/4)^2 x 4n tensor), nearest-up-sampled,
        # concatenated with the output of the up-sampling layer.
        h0_up = keras.layers.UpSampling2D(2, interpolation="nearest",
                                          name=f"{name}_h0_up1")(h0)
        x = keras.layers.Concatenate(name=f"{name}_skip1")([x, h0_up])
    x = keras.layers.Conv2DTranspose(config.channels, 4, strides=2, padding="same",
                                     name=f"{name}_up1")(x)
    # float32 output under mixed precision, as the paper network's.
    outputs = keras.layers.Activation("tanh", dtype="float32", name=f"{name}_out")(x)
    return keras.Model(inputs, outputs, name=name)


def build_generator(config: ModelConfig, name: str = "generator") -> keras.Model:
    """Generator G: z [N_z] -> image; the decoder's architecture, its own weights
    (``architecture="dcgan"``: :func:`build_dcgan_generator`)."""
    if config.architecture == "dcgan":
        return build_dcgan_generator(config, name=name)
    return build_decoder(config, input_dim=config.z_dim, name=name)


def build_discriminator(config: ModelConfig, name: str = "discriminator") -> keras.Model:
    """Auto-encoder discriminator D = decoder(encoder(x)): image -> image."""
    if config.architecture == "dcgan":
        encoder = build_dcgan_encoder(config, name="encoder")
        decoder = build_dcgan_decoder(config, name="decoder")
    else:
        encoder = build_encoder(config, name="encoder")
        decoder = build_decoder(config, name="decoder")
    inputs = image_input(config)
    return keras.Model(inputs, decoder(encoder(inputs)), name=name)

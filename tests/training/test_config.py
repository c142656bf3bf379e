"""ModelConfig / BEGAN constructor validation (issue 2, "Bad input")."""

import dataclasses
import re

import pytest

from tfbegan.checks import SUPPORTED_IMAGE_SIZES
from tfbegan.models import BEGAN
from tfbegan.models import began as began_module
from tfbegan.models.config import ModelConfig

# (argument, bad value, text of the allowed range the message must contain)
BAD = [
    ("image_size", 48, "power of two in [8, 256]"),
    ("image_size", 4, "power of two in [8, 256]"),
    ("image_size", 512, "power of two in [8, 256]"),
    ("image_size", 100, "power of two in [8, 256]"),
    ("image_size", 32.0, "integer"),
    ("channels", 2, "1, 3"),
    ("channels", 4, "1, 3"),
    ("channels", 0, "1, 3"),
    ("gamma", -0.1, "[0.0, 1.0]"),
    ("gamma", 1.5, "[0.0, 1.0]"),
    ("gamma", float("nan"), "finite"),
    ("lambda_k", -0.001, "[0.0, inf)"),
    ("eta", 3, "1, 2"),
    ("eta", 0, "1, 2"),
    ("eta", 1.5, "integer"),
    ("k_init", -0.5, "[0.0, 1.0]"),
    ("k_init", 1.01, "[0.0, 1.0]"),
    ("filters", 0, "[1, 4096]"),
    ("repeats", 0, "[1, 16]"),
    ("z_dim", 0, "[1, 65536]"),
    ("h_dim", -3, "[1, 65536]"),
]


@pytest.mark.parametrize("arg, value, allowed", BAD)
def test_model_config_rejects(arg, value, allowed):
    with pytest.raises(ValueError) as err:
        ModelConfig(**{arg: value})
    message = str(err.value)
    assert f"{arg}={value!r}" in message
    assert allowed in message


@pytest.mark.parametrize("arg, value, allowed", BAD)
def test_began_rejects_before_creating_variables(arg, value, allowed, monkeypatch):
    def no_networks(config, name=None):
        raise AssertionError("networks built before validation")

    monkeypatch.setattr(began_module, "build_generator", no_networks)
    monkeypatch.setattr(began_module, "build_discriminator", no_networks)
    with pytest.raises(ValueError, match=re.escape(f"{arg}={value!r}")) as err:
        kwargs = dict(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4)
        kwargs[arg] = value
        BEGAN(**kwargs)
    assert allowed in str(err.value)


def test_gamma_zero_with_k_zero_rejected_by_began():
    with pytest.raises(ValueError, match=r"gamma=0 with k_init=0 never moves k"):
        BEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4, gamma=0.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": 1.5}, r"seed=1\.5"),
    ({"seed": True}, r"seed=True"),
    ({"controller": "bang_bang"}, r"controller='bang_bang'.*proportional"),
    ({"distance": "no_such_distance"}, r"no_such_distance"),
])
def test_began_other_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4, **kwargs)


@pytest.mark.parametrize("size", SUPPORTED_IMAGE_SIZES)
def test_valid_sizes_and_scale_count(size):
    # The bottleneck is 8x8: log2(size) - 2 resolutions from size down to 8.
    assert ModelConfig(image_size=size).num_scales == {8: 1, 16: 2, 32: 3, 64: 4,
                                                      128: 5, 256: 6}[size]


def test_edges_of_ranges_are_accepted():
    ModelConfig(gamma=1.0, lambda_k=0.0, k_init=1.0, channels=1, eta=2)
    ModelConfig(gamma=0.0, k_init=1e-3)


def test_frozen_and_replace_validates():
    c = ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.gamma = 0.3  # frozen dataclass
    assert c.replace(gamma=0.7).gamma == 0.7
    with pytest.raises(ValueError, match=r"gamma=2"):
        c.replace(gamma=2)


def test_resume_refusal_names_only_the_entries_that_differ():
    """Two changed data settings used to print both whole data dicts (~1,200 chars)."""
    from tfbegan.data.config import DataConfig
    from tfbegan.training.config import TrainConfig
    from tfbegan.training.run_config import config_differences, config_to_dict

    old = TrainConfig(model_kwargs={"filters": 4, "z_dim": 4},
                      data=DataConfig("mnist5k", image_size=8), batch_size=4)
    new = old.replace(data=DataConfig("folder:/tmp/imgs", image_size=8, background="black"),
                      model_kwargs={"filters": 8, "z_dim": 4}, batch_size=8, steps=5000)
    assert sorted(config_differences(config_to_dict(old), new)) == [
        "batch_size: 4 -> 8",
        "data.background: 'white' -> 'black'",
        "data.dataset: 'mnist5k' -> 'folder:/tmp/imgs'",
        "model_kwargs.filters: 4 -> 8",
    ]

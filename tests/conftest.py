"""Test setup: quiet TensorFlow, two logical CPU devices, a `large` marker."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest
import tensorflow as tf

# Two logical CPUs so MirroredStrategy tests run without GPUs. Must happen before
# TensorFlow initialises its devices, i.e. before any test touches a tensor.
_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

TWO_CPUS = ["/cpu:0", "/cpu:1"]


def pytest_addoption(parser):
    parser.addoption("--large", action="store_true", default=False,
                     help="also run tests marked `large` (slow)")


def pytest_configure(config):
    config.addinivalue_line("markers", "large: slow checks, run with --large")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--large"):
        return
    skip = pytest.mark.skip(reason="large: run with --large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def two_replica_strategy():
    # One instance per process: a second MirroredStrategy reuses collective instance
    # keys, and its all-reduces fail with "Shape mismatch in the collective instance"
    # (seen with test_began then test_bigan in one run).
    return tf.distribute.MirroredStrategy(TWO_CPUS)

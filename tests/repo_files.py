"""Load a repository script that is not part of the package (export/, benchmarks/)."""

import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(relative_path, name):
    """The module of ``<repo>/<relative_path>``, imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, relative_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""A tiny tmpfs for disk-full tests (root and mount rights needed; skips otherwise)."""

import contextlib
import subprocess

import pytest


@contextlib.contextmanager
def small_tmpfs(path, size):
    """Mounts a tmpfs of ``size`` (e.g. "40k") on the new directory ``path``."""
    path.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False, timeout=30)

"""Packaged presets: ``tfbegan-train --preset=NAME`` for ``--flagfile=<NAME>.flags``.

The flagfiles (one per paper experiment, one working preset per model family) ship
inside the package (``tfbegan/presets/``; ``flags/`` in a checkout links there), so
a ``pip install`` user has them too. ``--preset=NAME`` is rewritten into
``--flagfile=<path>`` at its place on the command line before absl parses it, so
flags after it override the preset's values and flags before it are overridden, as
with ``--flagfile``.
"""

from __future__ import annotations

import pathlib

PRESET_DIR = pathlib.Path(__file__).resolve().parent.parent / "presets"


def names():
    """Every packaged preset's name, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.flags"))


def path(name):
    """The flagfile of preset ``name``; ValueError listing the presets otherwise."""
    file = PRESET_DIR / f"{name}.flags"
    if not name or "/" in name or not file.is_file():
        raise ValueError(f"--preset={name!r} is not a packaged preset; choose one of: "
                         f"{', '.join(names())}.")
    return str(file)


def expand(argv):
    """``argv`` with each ``--preset=NAME`` / ``--preset NAME`` replaced by
    ``--flagfile=<path>`` (ValueError for an unknown name or a missing value)."""
    out, args = [], iter(argv)
    for arg in args:
        if arg in ("--preset", "-preset"):
            value = next(args, None)
            if value is None:
                raise ValueError("--preset needs a name, e.g. --preset=mnist5k_began.")
            out.append(f"--flagfile={path(value)}")
        elif arg.startswith(("--preset=", "-preset=")):
            out.append(f"--flagfile={path(arg.split('=', 1)[1])}")
        else:
            out.append(arg)
    return out

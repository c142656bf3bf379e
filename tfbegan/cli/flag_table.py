"""Model flags as tables: one :class:`Flag` row per flag, from which a family's flag
module both defines its absl flags and builds its model's constructor arguments.

One row is the one home of a flag: its type, default (the paper's value), help text
and the constructor argument it feeds. ``define`` and ``model_kwargs`` replace the
hand-written ``flags.DEFINE_*`` calls and ``{"gamma": FLAGS.gamma, ...}`` dicts that
each family module used to repeat.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from absl import flags

#: absl definers by row kind.
_DEFINERS = {
    "float": flags.DEFINE_float,
    "integer": flags.DEFINE_integer,
    "bool": flags.DEFINE_bool,
    "string": flags.DEFINE_string,
    "enum": flags.DEFINE_enum,
    "list": flags.DEFINE_list,
}


@dataclasses.dataclass(frozen=True)
class Flag:
    """One model flag.

    Attributes:
      kind: ``float``, ``integer``, ``bool``, ``string``, ``enum`` or ``list``.
      name: the flag's name (``--name``).
      default: its default, the paper's value.
      help: the help text (paper section, range, the no-flag run's value).
      kwarg: the model constructor argument it feeds (default: ``name``).
      choices: the allowed values of an ``enum`` row.
      convert: maps the flag's value to the argument's (may raise ValueError with a
        message naming the flag).
      renamed_from: earlier names of the flag. Each still works for one release:
        :func:`apply_renames` moves its value to the new name with a deprecation
        warning.
    """

    kind: str
    name: str
    default: Any
    help: str
    kwarg: str | None = None
    choices: tuple = ()
    convert: Callable[[Any], Any] | None = None
    renamed_from: tuple = ()

    def __post_init__(self):
        if self.kind not in _DEFINERS:
            raise ValueError(f"Flag {self.name!r}: kind={self.kind!r}; allowed: "
                             f"{', '.join(_DEFINERS)}.")
        if (self.kind == "enum") != bool(self.choices):
            raise ValueError(f"Flag {self.name!r}: choices go with kind='enum' only.")

    @property
    def argument(self):
        return self.kwarg or self.name


def define(table, flag_values):
    """Defines every row of ``table`` on ``flag_values``; rows already defined there are
    skipped, so a module's ``define_flags`` may run twice."""
    for row in table:
        if row.name in flag_values:
            continue
        args = (row.name, row.default) + ((list(row.choices),) if row.choices else ())
        _DEFINERS[row.kind](*args, row.help, flag_values=flag_values)
        for old in row.renamed_from:
            if old in flag_values:  # another command's flag in a shared registry
                continue
            old_args = (old, row.default) + ((list(row.choices),) if row.choices else ())
            _DEFINERS[row.kind](*old_args, f"Deprecated: the old name of --{row.name} "
                                f"(removed in the next release).",
                                flag_values=flag_values)


def apply_renames(table, flag_values):
    """Moves each old flag name given on the command line to its new name.

    Returns the deprecation messages (one per old name used), for the caller to log.
    Raises ValueError when a flag is given under both names.
    """
    messages = []
    for row in table:
        for old in row.renamed_from:
            if old not in flag_values or not flag_values[old].present:
                continue
            if flag_values[row.name].present:
                raise ValueError(f"--{old} is the old name of --{row.name}; pass only "
                                 f"--{row.name}.")
            flag_values[row.name].value = flag_values[old].value
            flag_values[row.name].present = flag_values[old].present
            messages.append(f"--{old} is deprecated: it is now --{row.name} (the old "
                            f"name is removed in the next release).")
    return messages


def model_kwargs(table, flag_values):
    """``{row.argument: value}`` for the rows of ``table``, read as attributes of
    ``flag_values`` (absl's FlagValues or the CLI's resolved flags). Every row is
    passed, defaults included, so a run's recorded settings are complete."""
    kwargs = {}
    for row in table:
        value = getattr(flag_values, row.name)
        if row.default is None and value == "":
            value = None  # an empty string flag (`--distance=`) means "not given"
        kwargs[row.argument] = row.convert(value) if row.convert else value
    return kwargs


def functions(table):
    """A family module's ``define_flags(flag_values=FLAGS)`` and
    ``model_kwargs(flag_values=FLAGS)`` over ``table``."""

    def define_flags(flag_values=flags.FLAGS):
        define(table, flag_values)

    def kwargs(flag_values=flags.FLAGS):
        return model_kwargs(table, flag_values)

    return define_flags, kwargs

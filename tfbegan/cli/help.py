"""``--help`` of the tfbegan commands: the command's own flags, in groups, exit 0.

absl's ``--help`` lists the key flags of the ``__main__`` module, which for an
installed console script is a two-line wrapper that defines none, so it printed no
flag at all (and exits 1). Every tfbegan command therefore answers ``--help`` (``-h``,
``--helpshort``) itself: its docstring, then each group of its flags with their
defaults; ``--helpfull`` is absl's full list (every library's flags), also exit 0.
"""

from __future__ import annotations

import sys
import textwrap

HELP_ARGS = ("--help", "-h", "--helpshort", "-?")


def _flag_lines(flag):
    default = flag.default_as_str if flag.default is not None else "none"
    head = f"  --{flag.name} (default: {default})"
    body = textwrap.fill(" ".join(str(flag.help).split()), width=88,
                         initial_indent="      ", subsequent_indent="      ")
    return [head, body]


def help_text(doc, groups, flag_values):
    """The help page: ``doc``, then ``groups`` (``[(title, [flag names])]``)."""
    lines = [textwrap.dedent(doc or "").strip(), ""]
    for title, names in groups:
        names = [n for n in names if n in flag_values]
        if not names:
            continue
        lines += [f"{title}:"]
        for name in names:
            lines += _flag_lines(flag_values[name])
        lines.append("")
    lines.append("Every flag, with those of absl and TensorFlow: --helpfull.")
    return "\n".join(lines)


def answer_help(doc, groups, argv=None):
    """Prints the help page and exits 0 when ``argv`` asks for help; else returns.

    ``groups``: ``[(title, [flag names])]`` or a callable returning them.
    """
    from absl import app, flags

    argv = sys.argv[1:] if argv is None else argv
    if "--helpfull" in argv:
        app.usage(shorthelp=False, writeto_stdout=True)
        sys.exit(0)
    if any(a in HELP_ARGS for a in argv):
        groups = groups() if callable(groups) else groups
        print(help_text(doc, groups, flags.FLAGS))
        sys.exit(0)


def grouped(names, groups, rest_title="other flags"):
    """``groups`` (``[(title, [names])]``) with every name of ``names`` that no group
    lists appended under ``rest_title``."""
    listed = {n for _, group in groups for n in group}
    rest = [n for n in names if n not in listed]
    return list(groups) + ([(rest_title, rest)] if rest else [])

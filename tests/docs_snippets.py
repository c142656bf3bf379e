"""The shell commands and Python snippets of README.md and docs/*.md, as tests see them.

A fenced block is ```bash or ```python. A comment line just above its fence,
``<!-- docs-test: skip REASON -->``, marks a block that cannot run here (it needs a
network, a GPU or a TensorFlow Serving server); REASON says which. Output examples go
in fences without a language and are not read.
"""

import glob
import os
import re
import shlex

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.relpath(p, REPO)
                               for p in glob.glob(os.path.join(REPO, "docs", "*.md")))
MARKER = re.compile(r"<!--\s*docs-test:\s*skip\s+(.+?)\s*-->")
COMMANDS = {
    "tfbegan-train": "tfbegan.cli.train", "tfbegan-export": "tfbegan.cli.export",
    "tfbegan-sample": "tfbegan.cli.sample", "tfbegan-evaluate": "tfbegan.cli.evaluate",
    "tfbegan-invert": "tfbegan.cli.invert", "tfbegan-latent": "tfbegan.cli.latent",
    "tfbegan-client": "tfbegan.serving.client",
}


class Block:
    def __init__(self, page, line, language, text, skip):
        self.page, self.line, self.language = page, line, language
        self.text, self.skip = text, skip

    def __repr__(self):
        return f"{self.page}:{self.line}"


def blocks(pages=PAGES):
    """Every ```bash / ```python block of ``pages``, in page order."""
    found = []
    for page in pages:
        lines = open(os.path.join(REPO, page), encoding="utf-8").read().splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"^```(bash|python)\s*$", lines[i])
            if not m:
                i += 1
                continue
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()),
                          "")
            marker = MARKER.search(before)
            found.append(Block(page, start + 1, m.group(1), "\n".join(body) + "\n",
                               marker.group(1) if marker else None))
            i += 1
    return found


def _expand(words, variables):
    out = []
    for w in words:
        name = re.fullmatch(r"\$\{?(\w+)\}?", w)
        if name and name.group(1) in variables:
            out += shlex.split(variables[name.group(1)])
        else:
            out.append(w)
    return out


def command_lines(block):
    """``[(command, [argument, ...])]`` for each tfbegan command a bash block runs,
    with the block's own ``NAME="..."`` variables expanded."""
    text = block.text.replace("\\\n", " ")
    variables, found, pending = {}, [], ""
    for line in text.splitlines():
        try:  # a quoted string may span lines (a TF_CONFIG JSON): read on to its end
            words = shlex.split(pending + line, comments=True)
            pending = ""
        except ValueError:
            pending += line + "\n"
            continue
        for segment in _segments(words):
            while segment and re.fullmatch(r"\w+=.*", segment[0]):
                name, _, value = segment[0].partition("=")
                if len(segment) == 1:
                    variables[name] = value
                segment = segment[1:]
            segment = _expand(segment, variables)
            if segment and segment[0] in COMMANDS:
                found.append((segment[0], segment[1:]))
            elif segment[:3] and segment[:2] == ["python", "-m"] and \
                    segment[2] in COMMANDS.values():
                name = next(k for k, v in COMMANDS.items() if v == segment[2])
                found.append((name, segment[3:]))
    return found


def _segments(words):
    """Splits shell words at ``&&``, ``||``, ``;``, ``|`` and loop keywords."""
    segment = []
    for w in words:
        if w in ("&&", "||", ";", "|", "do", "done", "then", "fi") or w.endswith(";"):
            if w.endswith(";") and w != ";":
                segment.append(w[:-1])
            if segment:
                yield segment
            segment = []
        else:
            segment.append(w)
    if segment:
        yield segment


def flag_names(arguments):
    """The ``--name`` of each flag argument (``--noname`` as given; values dropped)."""
    return [a[2:].split("=", 1)[0] for a in arguments if a.startswith("--") and len(a) > 2]


def inline_commands(pages=PAGES):
    """``[(page, command, [argument, ...])]`` of the commands written inline, in
    backticks (table rows and prose), with ``$PLAIN``-style shorthands expanded from
    the page's bash blocks."""
    found = []
    for page in pages:
        text = open(os.path.join(REPO, page), encoding="utf-8").read()
        variables = {}
        for block in blocks([page]):
            for line in block.text.splitlines():
                m = re.fullmatch(r'(\w+)="([^"]*)"', line.strip())
                if m:
                    variables[m.group(1)] = m.group(2)
        for span in re.findall(r"`([^`\n]+)`", text):
            words = span.split()
            while words and re.fullmatch(r"\w+=\S*", words[0]):
                words = words[1:]
            if words and words[0] in COMMANDS and len(words) > 1:
                try:
                    arguments = _expand(shlex.split(" ".join(words[1:])), variables)
                except ValueError:
                    continue
                found.append((page, words[0], arguments))
    return found

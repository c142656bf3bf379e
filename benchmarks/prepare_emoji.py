"""Prepare the Noto emoji as image folders for the colour experiments (docs/your_images.md).

Reads the npm tarball of ``emoji-datasource-google`` (``npm pack
emoji-datasource-google``), whose ``img/google/64/*.png`` are 64 x 64 palette or RGBA
PNGs with transparency and whose ``emoji.json`` gives each emoji a ``category``
(skin-tone variants, listed under ``skin_variations``, take their base emoji's).
Writes two folders that ``--dataset=folder:PATH`` reads as they are:

* ``OUT/all``: every emoji with an image (the ``Component`` category, five skin-tone
  swatches and hair pieces, left out), one sub-folder per category;
* ``OUT/faces``: Smileys & Emotion with People & Body, the offline stand-in for the
  CelebA faces of Berthelot et al. 2017 and Khan et al. 2018;

and ``OUT/labels.csv`` (``path,category``) for ``benchmarks/emoji_classifier.py``.
Prints one JSON line: the counts per folder and per category.

Usage::

    npm pack emoji-datasource-google
    python benchmarks/prepare_emoji.py emoji-datasource-google-*.tgz --out=emoji
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import tarfile

FACES = ("Smileys & Emotion", "People & Body")
SKIPPED = ("Component",)
IMAGE_DIR = "package/img/google/64/"


def _categories(emoji_json):
    """Maps each image file name to its emoji's category (variants included)."""
    category = {}
    for emoji in emoji_json:
        names = [emoji["image"]]
        names += [v["image"] for v in (emoji.get("skin_variations") or {}).values()]
        for name in names:
            category[name] = emoji["category"]
    return category


def _slug(category):
    return category.lower().replace(" & ", "_").replace(" ", "_")


def prepare(tarball, out):
    """Writes OUT/all, OUT/faces and OUT/labels.csv; returns the counts."""
    with tarfile.open(tarball) as tar:
        category = _categories(json.load(tar.extractfile("package/emoji.json")))
        counts = collections.Counter()
        rows = []
        for member in tar.getmembers():
            name = os.path.basename(member.name)
            if not (member.isfile() and member.name.startswith(IMAGE_DIR)):
                continue
            cat = category.get(name)
            if cat is None or cat in SKIPPED:
                continue
            data = tar.extractfile(member).read()
            folders = ["all"] + (["faces"] if cat in FACES else [])
            for folder in folders:
                path = os.path.join(out, folder, _slug(cat), name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
            rows.append((os.path.join("all", _slug(cat), name), cat))
            counts[cat] += 1
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("path", "category"))
        writer.writerows(sorted(rows))
    faces = sum(counts[c] for c in FACES)
    return {"all": sum(counts.values()), "faces": faces, "categories": dict(counts)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tarball", help="emoji-datasource-google-*.tgz from npm pack")
    parser.add_argument("--out", default="emoji", help="output folder")
    args = parser.parse_args()
    print(json.dumps({"out": args.out, **prepare(args.tarball, args.out)}))


if __name__ == "__main__":
    main()

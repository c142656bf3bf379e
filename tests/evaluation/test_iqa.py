"""Table 2 callback and report, Figures 3-4, and the Table 1 flagfiles (Vertolli & Davies 2017)."""

import csv
import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfbegan.callbacks import quality
from tfbegan.evaluation import iqa
from tfbegan.losses import distances as D
from tfbegan.models import BEGAN

REPO = pathlib.Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_began(channels=3, distance="l1:2,gmsm:1"):
    model = BEGAN(image_size=8, channels=channels, filters=4, repeats=1,
                          z_dim=4, h_dim=4, gamma=0.5, lambda_k=0.1, k_init=0.5,
                          seed=1, distance=distance)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    return model


def real_images(n=4, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return np.tanh(rng.normal(size=(n, 8, 8, channels))).astype(np.float32)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------ callback
def test_callback_logs_csv_tensorboard_figures_and_report(tmp_path):
    model = tiny_began()
    x = real_images(8)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4, drop_remainder=True).repeat()
    cb = quality.ReconstructionDistances(x[:4], every_n_steps=2, log_dir=str(tmp_path),
                                     num_figure_images=2)
    model.fit(ds, steps_per_epoch=5, epochs=1, verbose=0, callbacks=[cb])
    assert [r["step"] for r in cb.history] == [2, 4]
    rows = read_rows(tmp_path / "iqa_distances.csv")
    assert [int(r["step"]) for r in rows] == [2, 4]
    for row, logged in zip(rows, cb.history, strict=True):
        for name in ("l1", "gmsm", "chrom"):
            assert float(row[name]) == pytest.approx(logged[name], rel=1e-12)
            assert 0.0 < logged[name] < 2.0
    # A second fit continues the global step numbering (optimizer iterations).
    model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0, callbacks=[cb])
    assert [r["step"] for r in cb.history] == [2, 4, 6]

    # The logged l1 is mean |x - D(x)| / 2 (the [0, 1] range), checked in NumPy.
    row = cb.evaluate()
    recon = model.reconstruct(x[:4]).numpy()
    assert row["step"] == 7
    assert row["l1"] == pytest.approx(float(np.mean(np.abs(x[:4] - recon)) / 2), rel=1e-5)

    events = list((tmp_path / "iqa").glob("events.out.tfevents*"))
    assert events, "no TensorBoard event file"
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(str(events[0])):
        tags.update(v.tag for v in event.summary.value)
    assert {"iqa/l1", "iqa/gmsm", "iqa/chrom"} <= tags

    for name in ("gms_figure.png", "chrominance_figure.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == PNG_SIGNATURE

    report = iqa.distance_report(str(tmp_path))
    json.dumps(report)  # the evaluate CLI prints it as JSON
    assert report["evaluations"] == 4 and report["last_step"] == 7
    for name in ("l1", "gmsm", "chrom"):
        values = np.array([r[name] for r in cb.history])
        assert report[name]["mean"] == pytest.approx(values.mean(), rel=1e-9)
        assert report[name]["std"] == pytest.approx(values.std(), rel=1e-9, abs=1e-12)


def test_callback_without_log_dir_on_grey_images(tmp_path):
    model = tiny_began(channels=1, distance="gmsm:1")
    x = real_images(4, channels=1)
    cb = quality.ReconstructionDistances(x, every_n_steps=1)
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4).repeat(), steps_per_epoch=2,
              epochs=1, verbose=0, callbacks=[cb])
    assert [r["step"] for r in cb.history] == [1, 2]
    assert all(r["chrom"] is None for r in cb.history)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kwargs, words", [
    ({"every_n_steps": 0}, "every_n_steps=0"),
    ({"every_n_steps": 2.5}, "every_n_steps=2.5"),
    ({"every_n_steps": 1, "images": np.zeros((4, 8, 8, 2))}, "images must have shape"),
    ({"every_n_steps": 1, "num_figure_images": 0}, "num_figure_images=0"),
])
def test_callback_bad_arguments(kwargs, words):
    kwargs.setdefault("images", real_images(2))
    with pytest.raises(ValueError, match=words):
        quality.ReconstructionDistances(**kwargs)


# ------------------------------------------------------------------ report
def test_distance_report_by_hand(tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    # Step 20 was logged twice (a run resumed from step 10): the later row counts.
    # The last line is torn, as a killed run may leave it.
    (log_dir / "iqa_distances.csv").write_text(
        "step,l1,gmsm,chrom\n"
        "10,0.1,0.5,\n"
        "20,0.9,0.9,\n"
        "20,0.2,0.3,\n"
        "30,0.3,0.4,\n"
        "4")
    report = iqa.distance_report(str(tmp_path))  # found one level down
    assert report["evaluations"] == 3
    assert (report["first_step"], report["last_step"]) == (10, 30)
    assert report["l1"]["mean"] == pytest.approx(0.2)
    assert report["l1"]["std"] == pytest.approx(0.1 * np.sqrt(2 / 3))
    assert report["gmsm"]["mean"] == pytest.approx(0.4)
    assert report["gmsm"]["std"] == pytest.approx(0.1 * np.sqrt(2 / 3))
    assert "chrom" not in report  # grey run: no chrominance column
    assert json.loads(json.dumps(report)) == report


def test_distance_report_missing_log(tmp_path):
    with pytest.raises(FileNotFoundError, match="ReconstructionDistances"):
        iqa.distance_report(str(tmp_path))
    (tmp_path / "iqa_distances.csv").write_text("step,l1,gmsm,chrom\n")
    with pytest.raises(ValueError, match="no distance rows"):
        iqa.distance_report(str(tmp_path))


# ------------------------------------------------------------------ figures
def test_gms_figure_size_and_similarity_panel(tmp_path):
    x = real_images(2)
    path = iqa.write_gms_figure(str(tmp_path / "gms.png"), x, x)
    assert open(path, "rb").read(8) == PNG_SIGNATURE
    image = np.asarray(Image.open(path).convert("L"))
    width, height = iqa.figure_size(2)
    assert (width, height) == (5 * iqa.PANEL_PX, 2 * (iqa.PANEL_PX + iqa.TITLE_PX))
    assert image.shape == (height, width)
    # Identical images: the S panel (last column, first row) is all white.
    p, t = iqa.PANEL_PX, iqa.TITLE_PX
    s_panel = image[t + 4:t + p - 4, 4 * p + 4:5 * p - 4]
    assert s_panel.min() >= 250
    # A blurred reconstruction of an edge loses similarity at the edge: darker S.
    edge = np.tile(np.where(np.arange(8) < 4, -1.0, 1.0), (8, 1))[..., None]
    blur = np.tile(np.linspace(-1, 1, 8), (8, 1))[..., None]
    path = iqa.write_gms_figure(str(tmp_path / "edge.png"), edge, blur)
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape == (iqa.figure_size(1)[1], iqa.figure_size(1)[0])
    assert image[t + 4:t + p - 4, 4 * p + 4:5 * p - 4].min() < 100


def test_chrominance_figure_size(tmp_path):
    x = real_images(2)
    recon = np.clip(x + 0.3, -1, 1)
    path = iqa.write_chrominance_figure(str(tmp_path / "chrom.png"), x, recon)
    assert open(path, "rb").read(8) == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.size == iqa.figure_size(4)  # two rows (I, Q) per image
    with pytest.raises(ValueError, match="needs RGB"):
        iqa.write_chrominance_figure(str(tmp_path / "grey.png"), x[..., :1], x[..., :1])
    with pytest.raises(ValueError, match="differ"):
        iqa.write_gms_figure(str(tmp_path / "bad.png"), x, x[:1])


# ------------------------------------------------------------------ flagfiles
# Table 1 of Vertolli & Davies 2017: model -> (size, gamma, beta_l1, beta_gmsm, beta_chrom).
TABLE_1 = {
    1: (64, 0.5, 1, 0, 0), 2: (64, 0.5, 0, 1, 0), 3: (64, 0.5, 0, 0, 1),
    4: (64, 0.5, 1, 1, 0), 5: (64, 0.5, 1, 1, 1), 6: (64, 0.5, 2, 1, 0),
    7: (64, 0.7, 1, 0, 0), 8: (64, 0.7, 1, 1, 0), 9: (64, 0.7, 1, 1, 1),
    10: (64, 0.7, 2, 1, 0), 11: (128, 0.7, 1, 0, 0), 12: (128, 0.7, 2, 1, 0),
}


@pytest.mark.parametrize("number", sorted(TABLE_1))
def test_table_1_flagfiles(number):
    from absl import flags as absl_flags

    path = REPO / "flags" / f"iqa_model_{number:02d}.flags"
    text = path.read_text()
    assert f"Table 1, model {number:02d}" in text
    # absl itself reads the file (comments included) into --name=value arguments.
    fv = absl_flags.FlagValues()
    argv = fv.read_flags_from_files([f"--flagfile={path}"], force_gnu=False)
    values = dict(a[2:].split("=", 1) for a in argv)
    size, gamma, b1, b2, b3 = TABLE_1[number]
    assert int(values["image_size"]) == size
    assert float(values["gamma"]) == gamma
    assert values["distance"] == f"l1:{b1},gmsm:{b2},chrom:{b3}"
    expected_spec = ",".join(f"{n}:{b}" for n, b in
                             (("l1", b1), ("gmsm", b2), ("chrom", b3)) if b)
    assert D.make_distance(values["distance"], channels=3).spec == expected_spec
    nz = 256 if number == 12 else 128
    assert int(values["z_dim"]) == int(values["h_dim"]) == nz
    assert float(values["learning_rate"]) == 8e-5
    assert float(values["beta1"]) == 0.5
    assert int(values["batch_size"]) == 16
    assert float(values["lr_decay_factor"]) == 0.5
    assert int(values["lr_decay_every"]) == 100000
    assert values["dataset"] == "tfds:celeb_a"
    steps = {2: 18000, 3: 18000, 11: 300000, 12: 300000}.get(number, 100000)
    assert int(values["steps"]) == steps
    assert os.path.basename(path) == f"iqa_model_{number:02d}.flags"


def test_figure_panels_say_what_they_show(tmp_path, monkeypatch):
    """The chrominance figure was titled O, A, OI, AI, SI with no key to them."""
    titles = []
    monkeypatch.setattr(iqa, "_render", lambda path, panels, px: titles.append(
        [t for t, _, _ in panels[0]] + [t for t, _, _ in panels[-1]]) or path)
    x = np.zeros((1, 8, 8, 3), np.float32)
    iqa.write_gms_figure(str(tmp_path / "g.png"), x, x)
    iqa.write_chrominance_figure(str(tmp_path / "c.png"), x, x)
    gms, chrom = titles
    assert gms[:4] == ["original", "reconstruction", "original gradient", "recon. gradient"]
    assert gms[4].startswith("GMS, d=")
    assert chrom[:4] == ["original", "reconstruction", "original I", "recon. I"]
    assert chrom[4].startswith("S_I, mean ") and chrom[7:9] == ["original Q", "recon. Q"]

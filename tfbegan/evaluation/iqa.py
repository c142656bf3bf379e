"""Image-quality evaluation of BEGAN auto-encoders (Vertolli & Davies 2017: Table 2, Figures 3-4).

* :class:`tfbegan.callbacks.ReconstructionDistances` (importable from here too): a
  Keras callback that, once per N training steps, reconstructs a fixed batch of real
  images with ``model.reconstruct`` and logs :func:`reconstruction_distances` (the
  batch means of the l1, GMSM and chrominance distances, ``1 -`` similarity) to
  ``<log_dir>/iqa_distances.csv`` and TensorBoard.
* :func:`distance_report`: each distance's mean and standard deviation over a run,
  the columns of Table 2 ("mean error scores ... over all training epochs").
* :func:`write_gms_figure` (Figure 3) and :func:`write_chrominance_figure`
  (Figure 4): PNGs of originals, reconstructions, their gradient magnitudes or
  I/Q channels, and the similarity maps.

The distances themselves live in :mod:`tfbegan.losses.distances`.
"""

from __future__ import annotations

import csv
import glob
import os

import keras
import numpy as np
import tensorflow as tf

from tfbegan import imaging
from tfbegan.losses import distances

CSV_NAME = "iqa_distances.csv"
CSV_COLUMNS = ("step", "l1", "gmsm", "chrom")
#: Table 2's distances, in its column order.
REPORT_DISTANCES = ("l1", "gmsm", "chrom")

#: Figure layout: each panel is PANEL_PX square with a TITLE_PX caption strip
#: above it, rendered at FIGURE_DPI (a power of two keeps pixel sizes exact).
PANEL_PX = 128
TITLE_PX = 16
FIGURE_DPI = 64
FIGURE_COLUMNS = 5


def reconstruction_distances(images, reconstructions):
    """Batch means of the Table 2 distances between images and reconstructions.

    Args:
      images, reconstructions: ``[batch, H, W, C]`` in [-1, 1], C in {1, 3}.

    Returns:
      ``{"l1": float, "gmsm": float, "chrom": float or None}`` (chrom is None for
      one-channel images, which have no chroma).
    """
    x = tf.convert_to_tensor(images, tf.float32)
    r = tf.convert_to_tensor(reconstructions, tf.float32)
    out = {"l1": float(tf.reduce_mean(distances.l1_distance(x, r))),
           "gmsm": float(tf.reduce_mean(distances.gmsm_distance(x, r))),
           "chrom": None}
    if x.shape[-1] == 3:
        out["chrom"] = float(tf.reduce_mean(distances.chrominance_distance(x, r)))
    return out


# ---------------------------------------------------------------------- report
def _find_csv(run_dir):
    direct = os.path.join(run_dir, CSV_NAME)
    if os.path.isfile(direct):
        return direct
    found = sorted(glob.glob(os.path.join(run_dir, "**", CSV_NAME), recursive=True),
                   key=lambda p: (p.count(os.sep), p))
    if not found:
        raise FileNotFoundError(
            f"no {CSV_NAME} under {run_dir!r}: train with the ReconstructionDistances "
            f"callback (log_dir inside the run directory) to record Table 2's distances.")
    return found[0]


def read_distance_log(path):
    """Rows of an ``iqa_distances.csv`` as dicts, sorted by step; a step logged
    twice (a run resumed from an earlier checkpoint) keeps its last row."""
    by_step = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                parsed = {"step": int(row["step"])}
                for name in REPORT_DISTANCES:
                    value = (row.get(name) or "").strip()
                    parsed[name] = float(value) if value else None
            except (KeyError, TypeError, ValueError):
                continue
            if parsed["l1"] is None or parsed["gmsm"] is None:
                continue  # a torn last line of a killed run
            by_step[parsed["step"]] = parsed
    return [by_step[s] for s in sorted(by_step)]


def distance_report(run_dir):
    """Table 2's columns for one run: each distance's mean and standard deviation
    over all logged evaluations.

    Reads ``<run_dir>/iqa_distances.csv`` (or the shallowest one below run_dir).
    The standard deviation is the population one (ddof = 0) over evaluations.

    Returns:
      A JSON-serialisable dict::

        {"run_dir": ..., "csv": ..., "evaluations": n, "first_step": s0,
         "last_step": s1, "l1": {"mean": m, "std": s}, "gmsm": {...},
         "chrom": {...}}   # chrom only when the run logged it (RGB images)

    Raises:
      FileNotFoundError: no log under ``run_dir``. ValueError: the log has no rows.
    """
    path = _find_csv(run_dir)
    rows = read_distance_log(path)
    if not rows:
        raise ValueError(f"{path!r} holds no distance rows yet.")
    report = {"run_dir": os.path.abspath(run_dir), "csv": os.path.abspath(path),
              "evaluations": len(rows), "first_step": rows[0]["step"],
              "last_step": rows[-1]["step"]}
    for name in REPORT_DISTANCES:
        values = np.array([r[name] for r in rows if r[name] is not None], np.float64)
        if values.size:
            report[name] = {"mean": float(values.mean()), "std": float(values.std())}
    return report


# ---------------------------------------------------------------------- figures
def _as_batch(images, name):
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or x.shape[0] == 0:
        raise ValueError(f"{name} must be [H, W, C] or [N, H, W, C] with C in {{1, 3}}, "
                         f"got shape {x.shape}.")
    return x


def _pair(original, reconstruction):
    o = _as_batch(original, "original")
    r = _as_batch(reconstruction, "reconstruction")
    if o.shape != r.shape:
        raise ValueError(f"original {o.shape} and reconstruction {r.shape} differ.")
    return o, r


def figure_size(rows, cols=FIGURE_COLUMNS, panel_px=PANEL_PX):
    """Pixel size ``(width, height)`` of a figure with ``rows`` x ``cols`` panels."""
    return cols * panel_px, rows * (panel_px + TITLE_PX)


def _render(path, panels, panel_px):
    """Draws ``panels`` (rows of (title, array, imshow kwargs)) and saves a PNG of
    exactly :func:`figure_size` pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, cols = len(panels), max(len(r) for r in panels)
    width, height = figure_size(rows, cols, panel_px)
    fig = Figure(figsize=(width / FIGURE_DPI, height / FIGURE_DPI), dpi=FIGURE_DPI)
    FigureCanvasAgg(fig)
    cell_h = (panel_px + TITLE_PX) / height
    for i, row in enumerate(panels):
        for j, (title, image, kwargs) in enumerate(row):
            ax = fig.add_axes([j * panel_px / width, 1.0 - (i + 1) * cell_h,
                               panel_px / width, panel_px / height])
            ax.imshow(image, interpolation="nearest", **kwargs)
            ax.set_axis_off()
            fig.text((j + 0.5) * panel_px / width, 1.0 - i * cell_h - 0.5 * TITLE_PX / height,
                     title, ha="center", va="center", fontsize=8)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=FIGURE_DPI, format="png")
    os.replace(tmp, path)
    return path


def _rgb(image):
    """[-1, 1] image -> what imshow shows (grey maps for one channel)."""
    x = imaging.to_zero_one(image, clip=True)
    if x.shape[-1] == 1:
        return x[..., 0], {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
    return x, {}


def write_gms_figure(path, original, reconstruction, operator="sobel", panel_px=PANEL_PX):
    """Figure 3 of Vertolli & Davies 2017 as a PNG: per image one row of five panels,
    each titled with what it shows (the paper's O, A, OG, AG, S).

    The original and its reconstruction; their luminance gradient magnitudes
    (common grey scale, 0 = black); the GMS map (Eq. 5) in [0, 1], white = similar,
    titled with the image's GMSM distance d.

    Args:
      path: the PNG to write. original, reconstruction: ``[H, W, C]`` or
        ``[N, H, W, C]`` in [-1, 1]. operator: ``"sobel"`` or ``"prewitt"``.

    Returns:
      ``path``; the image is :func:`figure_size(N)` pixels.
    """
    o, r = _pair(original, reconstruction)
    m_o = distances.gradient_magnitude(
        distances.luminance(imaging.to_zero_one(o)), operator).numpy()
    m_r = distances.gradient_magnitude(
        distances.luminance(imaging.to_zero_one(r)), operator).numpy()
    gms = distances.similarity(m_o, m_r).numpy()
    panels = []
    for i in range(o.shape[0]):
        top = max(float(m_o[i].max()), float(m_r[i].max()), 1e-6)
        grey = {"cmap": "gray", "vmin": 0.0, "vmax": top}
        img_o, kw_o = _rgb(o[i])
        img_r, kw_r = _rgb(r[i])
        panels.append([
            ("original", img_o, kw_o), ("reconstruction", img_r, kw_r),
            ("original gradient", m_o[i], grey), ("recon. gradient", m_r[i], grey),
            (f"GMS, d={1.0 - float(gms[i].mean()):.3f}", gms[i],
             {"cmap": "gray", "vmin": 0.0, "vmax": 1.0})])
    return _render(path, panels, panel_px)


def write_chrominance_figure(path, original, reconstruction, panel_px=PANEL_PX):
    """Figure 4 of Vertolli & Davies 2017 as a PNG: per image two rows (I, then Q), each
    of five titled panels (the paper's O, A, OC, AC, S): original, reconstruction,
    their chrominance channel, and its similarity map.

    The channels: the original's and reconstruction's I (blue-red scale) or Q
    (green-purple scale) channel, symmetric limits at the largest value the YIQ
    matrix allows; S: S_I or S_Q (Eq. 4) on a grey scale clipped to [0, 1] (white
    = similar; negative similarity, opposite hues, shows black).

    Raises ValueError for one-channel images. Returns ``path``; the image is
    :func:`figure_size(2 N)` pixels.
    """
    o, r = _pair(original, reconstruction)
    if o.shape[-1] != 3:
        raise ValueError(f"the chrominance figure needs RGB images, got shape {o.shape}.")
    yiq_o = distances.rgb_to_yiq(imaging.to_zero_one(o)).numpy()
    yiq_r = distances.rgb_to_yiq(imaging.to_zero_one(r)).numpy()
    s_i, s_q = (s.numpy() for s in distances.chrominance_maps(o, r))
    limits = {1: 0.596, 2: 0.523}  # max |I|, |Q| over RGB in [0, 1]
    cmaps = {1: "coolwarm", 2: "PRGn"}
    panels = []
    for n in range(o.shape[0]):
        img_o, kw_o = _rgb(o[n])
        img_r, kw_r = _rgb(r[n])
        for channel, label, sim in ((1, "I", s_i), (2, "Q", s_q)):
            scale = {"cmap": cmaps[channel], "vmin": -limits[channel],
                     "vmax": limits[channel]}
            panels.append([
                ("original", img_o, kw_o), ("reconstruction", img_r, kw_r),
                (f"original {label}", yiq_o[n, ..., channel], scale),
                (f"recon. {label}", yiq_r[n, ..., channel], scale),
                (f"S_{label}, mean {float(sim[n].mean()):.3f}", sim[n],
                 {"cmap": "gray", "vmin": 0.0, "vmax": 1.0})])
    return _render(path, panels, panel_px)


def write_figures(model, images, out_dir):
    """Reconstructs ``images`` with ``model.reconstruct`` and writes
    ``gms_figure.png`` (Figure 3) and, for RGB, ``chrominance_figure.png``
    (Figure 4) into ``out_dir``. Returns ``{"gms": path, "chrominance": path}``."""
    x = _as_batch(images, "images")
    recon = keras.ops.convert_to_numpy(model.reconstruct(x))
    paths = {"gms": write_gms_figure(os.path.join(out_dir, "gms_figure.png"), x, recon)}
    if x.shape[-1] == 3:
        paths["chrominance"] = write_chrominance_figure(
            os.path.join(out_dir, "chrominance_figure.png"), x, recon)
    return paths



__all__ = ["distance_report", "read_distance_log",
           "reconstruction_distances", "write_gms_figure", "write_chrominance_figure",
           "write_figures", "figure_size"]

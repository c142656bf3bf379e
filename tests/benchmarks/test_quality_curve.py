"""benchmarks/quality_curve.py: checkpoints found in step order, minutes from the
run's start, and the plot drawn from the rows (the evaluation itself is
tfbegan-evaluate, tested on its own)."""

import os
import sys

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)

import quality_curve  # noqa: E402


def _run(tmp_path, steps_and_ages):
    """A fake workdir: config.json at t=1000 s, checkpoints at the given offsets."""
    (tmp_path / "checkpoints").mkdir()
    config = tmp_path / "config.json"
    config.write_text("{}")
    os.utime(config, (1000, 1000))
    for step, seconds in steps_and_ages:
        ckpt = tmp_path / "checkpoints" / f"ckpt-{step:08d}.keras"
        ckpt.write_bytes(b"")
        os.utime(ckpt, (1000 + seconds, 1000 + seconds))
    (tmp_path / "checkpoints" / "ckpt-00000300.keras.sidecar.json").write_text("{}")
    return tmp_path


def test_checkpoints_in_step_order_with_minutes(tmp_path, monkeypatch):
    run = _run(tmp_path, [(1000, 120), (250, 30), (500, 60)])
    assert [s for s, _ in quality_curve.checkpoints(str(run))] == [250, 500, 1000]
    calls = []

    def evaluate(path, flags):
        calls.append(list(flags))
        report = {"fid": float(len(calls)), "swd": 2.0}
        return report if "--nofloors" in flags else {**report, "swd_floor": 0.5}

    monkeypatch.setattr(quality_curve, "evaluate", evaluate)
    rows = list(quality_curve.score_run(str(run), "a", ["--num=10"]))
    assert [(r["step"], r["minutes"], r["fid"], r["swd_floor"]) for r in rows] == [
        (250, 0.5, 1.0, 0.5), (500, 1.0, 2.0, 0.5), (1000, 2.0, 3.0, 0.5)]
    # The floors, the same for every checkpoint, are computed with the first only.
    assert calls == [["--num=10"], ["--num=10", "--nofloors"], ["--num=10", "--nofloors"]]


def test_plot_draws_one_panel_per_metric(tmp_path):
    rows = [{"run": run, "minutes": m, "fid": 10 - m, "swd": 5.0, "swd_floor": 1.0}
            for run in ("a", "b") for m in (1.0, 2.0)]
    out = tmp_path / "curve.png"
    quality_curve.plot(rows, ["fid", "swd"], str(out))
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (840, 340)


def test_phase_breakdown_splits_at_the_progress_lines():
    import phase_breakdown

    lines = [(2.0, "folder ..."), (14.0, "step 1/300 | first step 9.5 s (tracing and "
             "compiling)"), (20.0, "step 100/300 | loss_real 0.1"),
             (40.0, "step 300/300 | loss_real 0.1"), (41.0, "exported ..."), (47.5, "")]
    assert phase_breakdown.phases(lines) == {
        "startup_s": 4.5, "first_step_s": 9.5, "training_s": 26.0, "end_of_run_s": 7.5,
        "total_s": 47.5, "steps": 300}

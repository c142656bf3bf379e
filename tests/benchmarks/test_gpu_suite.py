"""benchmarks/gpu_suite.py on a machine without a GPU, and the FLOP accounting of
benchmarks/train_throughput.py."""

import json
import os
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)

import gpu_suite  # noqa: E402
import train_throughput  # noqa: E402

from tfbegan.models.config import ModelConfig  # noqa: E402


def _run_suite(*args):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "gpu_suite.py"), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_without_a_gpu_it_says_so_and_exits_zero():
    lines = _run_suite()
    assert len(lines) == 1
    assert lines[0]["skipped"].startswith("no GPU visible")


def test_tiny_cells_on_cpu_one_device_and_mirrored():
    lines = _run_suite("--allow_cpu", "--cpu_replicas", "2", "--sizes", "8", "--filters",
                       "4", "--batches", "2", "--dtypes", "float32,bfloat16", "--jit_modes",
                       "false", "--steps", "2", "--warmup", "1", "--overhead_spe", "0")
    assert [(c["dtype"], c["replicas"]) for c in lines] == [
        ("float32", 1), ("bfloat16", 1), ("float32", 2), ("bfloat16", 2)]
    for cell in lines:
        assert "error" not in cell, cell
        assert cell["device"] == "CPU" and cell["finite"]
        assert cell["global_batch"] == 2 * cell["replicas"]
        # images/s and ms/step describe the same timed call.
        assert cell["images_per_sec"] == pytest.approx(
            1000 * cell["global_batch"] / cell["ms_per_step"], rel=0.01)


def test_cells_cover_the_issue_grid_and_spend_the_budget_in_order():
    args = gpu_suite.parse_args([])
    one = gpu_suite.cells(args, replicas=1)
    # 2 sizes x 2 n x 2 batches x 3 dtypes x 2 XLA, then 3 x 2 overhead cells.
    assert len(one) == 48 + 6
    assert {(c["size"], c["n"], c["batch"]) for c in one[:48]} == {
        (s, n, b) for s in (64, 128) for n in (64, 128) for b in (16, 64)}
    assert {c["spe"] for c in one[48:]} == {8}
    two = gpu_suite.cells(args, replicas=2)
    assert len(two) == 2 * len(one) and {c["replicas"] for c in two[54:]} == {2}
    with pytest.raises(SystemExit):
        gpu_suite.parse_args(["--dtypes", "float64"])


def test_flops_count_what_each_formulation_runs():
    # 8 px, 1 channel, n = 4, two convs per scale, N_z = 4, N_h = 6 (one 8x8 scale):
    # encoder 2304 (in, the first layer) + 2 x 9216 + 1536 (Dense to h) = 22272 MACs,
    # decoder 1536 + 2 x 9216 + 2304 = 22272, so D = 44544, D_1 = 2304;
    # generator 1024 (Dense from z, G_1) + 2 x 9216 + 2304 = 21760.
    cfg = ModelConfig(image_size=8, channels=1, filters=4, repeats=2, z_dim=4, h_dim=6)
    g, g1, d, d1 = 21760, 1024, 44544, 2304
    two = 2 * 2 * (3 * g - g1 + 7 * d - 2 * d1)   # batch 2
    one = 2 * 2 * (3 * g - g1 + 6 * d - d1)
    assert (two, one) == (1485824, 1316864)
    assert train_throughput.step_flops(cfg, 2, "two_backward") == two
    assert train_throughput.step_flops(cfg, 2, "one_backward") == one
    with pytest.raises(ValueError, match="formulation='three'"):
        train_throughput.step_flops(cfg, 2, "three")


def test_train_throughput_reports_each_formulation_with_its_flops(capsys):
    train_throughput.main(["--sizes", "16", "--filters", "16", "--batch", "2",
                           "--channels", "1", "--steps", "1", "--warmup", "1", "--rounds", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["path"], c.get("formulation")) for c in lines] == [
        ("fit", "one_backward"), ("loop", "two_backward"), ("fit/loop", None)]
    # 16 px, n = 16, batch 2: 0.124 GFLOP with one backward pass through D on G(z),
    # 0.142 with two.
    assert [c["gflop_per_step"] for c in lines[:2]] == [0.12, 0.14]
    for cell in lines[:2]:
        assert cell["images_per_sec"] > 0
    assert lines[2]["throughput_ratio"] > 0

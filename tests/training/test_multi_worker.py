"""--strategy=multi_worker: two worker processes on 127.0.0.1 train as one.

Each worker runs ``train_lib.train`` with ``strategy="multi_worker"`` (a
``MultiWorkerMirroredStrategy`` built from its ``TF_CONFIG``) on the same workdir (the
shared-filesystem layout of docs/multi_worker.md) and dumps its final k, step and
weights to an .npz; the two dumps must be identical. The chief (worker 0) alone writes
checkpoints, samples, config.json and the export. A second launch with more steps
resumes both workers from the chief's checkpoint.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

WORKER = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    from tfbegan.data import pipeline as data_lib
    from tfbegan.training import train_lib
    from tfbegan.training.config import TrainConfig

    workdir, out, steps, export = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    config = TrainConfig(
        model_kwargs=dict(image_size=8, channels=1, filters=4, repeats=1, z_dim=4,
                          h_dim=4, seed=0),
        data=data_lib.DataConfig(image_size=8), batch_size=4, steps=steps,
        log_every=2, checkpoint_every=2, sample_every=2, strategy="multi_worker",
        export_base=export or None)
    summary = train_lib.train(config, workdir)
    model = summary["model"]
    np.savez(out, k=np.float32(summary["k"]), step=summary["step"],
             start=summary["start_step"],
             replicas=model.distribute_strategy.num_replicas_in_sync,
             chief=train_lib.is_chief(model.distribute_strategy),
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})
""")


def free_ports(n):
    """``n`` distinct free TCP ports on 127.0.0.1 (bound to port 0, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run_workers(tmp_path, workdir, steps, tag, export="", other_workdir=None,
                expect_failure=False):
    """Starts two workers, waits for both, returns their loaded .npz dumps.

    ``other_workdir``: worker 1's workdir (default: ``workdir``, the shared one).
    With ``expect_failure`` both must exit non-zero; returns their logs.
    """
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, outs, logs = [], [], []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}),
            CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
        out = tmp_path / f"{tag}_worker{index}.npz"
        log = open(tmp_path / f"{tag}_worker{index}.log", "w")
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(other_workdir if index and other_workdir
                                              else workdir), str(out), str(steps), export],
            env=env, stdout=log, stderr=subprocess.STDOUT))
        outs.append(out)
        logs.append(log)
    codes = []
    try:
        for p in procs:
            try:
                codes.append(p.wait(timeout=60 if expect_failure else 300))
            except subprocess.TimeoutExpired:
                if not expect_failure:
                    raise
                # A worker that raised can stay alive waiting on the coordination
                # service (TF's multi-worker shutdown); its error is in the log.
                p.kill()
                codes.append(p.wait())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for log in logs:
            log.close()
    if expect_failure:
        assert all(codes), codes
        return [(tmp_path / f"{tag}_worker{i}.log").read_text() for i in range(2)]
    for index, code in enumerate(codes):
        if code != 0:
            text = (tmp_path / f"{tag}_worker{index}.log").read_text()
            pytest.fail(f"worker {index} exited with {code}:\n{text[-4000:]}")
    return [dict(np.load(o)) for o in outs]


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if key != "chief":
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_two_workers_train_identically_and_resume_from_chief(tmp_path):
    workdir = tmp_path / "run"
    export = tmp_path / "export"
    first = run_workers(tmp_path, workdir, steps=3, tag="a", export=str(export))
    chief, worker = first
    assert bool(chief["chief"]) and not bool(worker["chief"])
    assert int(chief["replicas"]) == 2  # one CPU replica per worker
    assert int(chief["step"]) == 3 and int(chief["start"]) == 0
    assert 0.0 < float(chief["k"]) < 1e-2  # k moved off k_0 = 0, by < lambda_k per step
    assert_identical(chief, worker)

    # Only the chief wrote files: checkpoints at steps 2 and 3 (the end), one export.
    ckpts = sorted(os.listdir(workdir / "checkpoints"))
    assert ckpts == ["ckpt-00000002.json", "ckpt-00000002.keras",
                     "ckpt-00000003.json", "ckpt-00000003.keras"]
    assert sorted(os.listdir(export)) == ["1"]
    assert (workdir / "config.json").exists()
    # The chief's metric rows hold scalars (train_lib's [1]-shaped logs come back
    # from Keras' cross-worker reduction as scalars).
    header, row = (workdir / "metrics.csv").read_text().splitlines()
    assert row.startswith("2,") and "k" in header.split(",")
    assert sorted(os.listdir(workdir / "samples")) == ["samples_00000002.png",
                                                       "samples_00000003.png"]

    # Restart with more steps: both load the chief's step-3 checkpoint and continue.
    second = run_workers(tmp_path, workdir, steps=5, tag="b")
    for dump in second:
        assert int(dump["start"]) == 3 and int(dump["step"]) == 5
    assert_identical(*second)
    assert not np.array_equal(second[0]["w0"], chief["w0"])  # it trained on
    assert "ckpt-00000005.keras" in os.listdir(workdir / "checkpoints")


@pytest.mark.large
def test_workers_that_see_different_workdirs_refuse_to_train(tmp_path):
    """Worker 1 on an unshared (empty) workdir would start from step 0 while the
    chief resumes: both stop before training, naming the two steps."""
    workdir = tmp_path / "run"
    run_workers(tmp_path, workdir, steps=2, tag="a")
    logs = run_workers(tmp_path, workdir, steps=4, tag="b", expect_failure=True,
                       other_workdir=tmp_path / "local")
    for log in logs:
        assert "workers resumed from different steps (0 .. 2)" in log


def test_same_start_check_passes_on_agreeing_replicas(two_replica_strategy):
    from tfbegan.training.distribution import check_same_start

    check_same_start(two_replica_strategy, 7)  # all-gather of equal steps: no error

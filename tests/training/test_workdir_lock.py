"""tfbegan.training.workdir_lock: one run per workdir, no stale lock after SIGKILL."""

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from tfbegan.training import workdir_lock
from tfbegan.training.workdir_lock import WorkdirLock, WorkdirLockedError, WorkdirLockError

# The holder imports the module by file path: importing the tfbegan package would
# load TensorFlow (seconds) in the child.
_HOLDER = textwrap.dedent("""
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location("workdir_lock", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lock = module.WorkdirLock(sys.argv[2]).acquire()
    print("locked", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path):
    workdir = str(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, workdir_lock.__file__, workdir],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc, workdir
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_second_acquirer_fails_at_once_naming_pid_and_host(holder):
    proc, workdir = holder
    with pytest.raises(WorkdirLockedError) as info:
        WorkdirLock(workdir).acquire()
    message = str(info.value)
    assert "\n" not in message
    assert f"pid {proc.pid} on host {socket.gethostname()}" in message
    assert repr(workdir) in message
    assert info.value.holder["pid"] == proc.pid
    assert isinstance(info.value, ValueError)


def test_sigkilled_holder_leaves_no_stale_lock(holder):
    proc, workdir = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # The lock file is still there (with the dead holder's name), but not locked.
    assert os.path.exists(os.path.join(workdir, workdir_lock.LOCK_FILE))
    with WorkdirLock(workdir) as lock:
        assert lock.locked
        assert workdir_lock.read_holder(workdir)["pid"] == os.getpid()


def test_release_lets_the_next_run_in_and_is_idempotent(tmp_path):
    workdir = str(tmp_path / "new" / "run")  # created on acquire
    first = WorkdirLock(workdir)
    with first:
        # A second lock object in the same process conflicts too (flock is per
        # open file), so two concurrent train() calls in one script are caught.
        with pytest.raises(WorkdirLockedError, match=f"pid {os.getpid()} "):
            WorkdirLock(workdir).acquire()
    assert not first.locked
    first.release()
    assert workdir_lock.read_holder(workdir) == {}  # no stale name after release
    with WorkdirLock(workdir):
        pass


def test_unwritable_workdir_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(WorkdirLockError) as info:
        WorkdirLock(str(blocker / "run")).acquire()
    assert "\n" not in str(info.value)
    assert "cannot create the lock file" in str(info.value)

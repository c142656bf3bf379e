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
    # A finished workdir holds no lock file.
    assert not os.path.exists(os.path.join(workdir, workdir_lock.LOCK_FILE))
    with WorkdirLock(workdir):
        pass


def test_a_lock_taken_on_a_file_unlinked_by_its_releasing_holder_is_retaken(tmp_path):
    # The race the unlink on release opens: B opens the file, A releases (unlinks it),
    # B locks the unlinked file; C must not then lock a new file beside B. B re-checks
    # that the file it locked is the one at the path and locks again.
    workdir = str(tmp_path)
    path = os.path.join(workdir, workdir_lock.LOCK_FILE)
    b = WorkdirLock(workdir)
    real_open_and_lock = b._open_and_lock
    calls = []

    def racing_open_and_lock():
        fd = real_open_and_lock()
        if not calls:  # the first file B locks is unlinked under it
            os.unlink(path)
        calls.append(fd)
        return fd

    b._open_and_lock = racing_open_and_lock
    with b:
        assert len(calls) == 2
        assert os.fstat(b._fd).st_ino == os.stat(path).st_ino
        with pytest.raises(WorkdirLockedError):
            WorkdirLock(workdir).acquire()


def test_unwritable_workdir_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(WorkdirLockError) as info:
        WorkdirLock(str(blocker / "run")).acquire()
    assert "\n" not in str(info.value)
    assert "cannot create the lock file" in str(info.value)

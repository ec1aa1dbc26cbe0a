"""One process per run directory: the lock records its holder, refuses a second process, and is
released by the kernel when its holder is killed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from train_large.runlock import LOCK_FILE, RunLocked, hold_run_lock, read_holder, under_rank0

HOLD_FOREVER = textwrap.dedent("""
    import sys, time
    from train_large.runlock import hold_run_lock
    with hold_run_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
""")


def test_the_lock_file_records_its_holder(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "118")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "117")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    with hold_run_lock(tmp_path) as me:
        holder = read_holder(tmp_path / LOCK_FILE)
    assert holder == me
    assert (holder.pid, holder.host, holder.slurm_job_id) == (os.getpid(), socket.gethostname(), "117_1")


def test_a_second_holder_is_refused_with_one_line_naming_the_first(tmp_path):
    with hold_run_lock(tmp_path):
        with pytest.raises(RunLocked) as refused:
            with hold_run_lock(tmp_path):
                pytest.fail("two holders at once")
    message = str(refused.value)
    assert "\n" not in message and str(tmp_path) in message and f"pid {os.getpid()} on" in message
    with hold_run_lock(tmp_path):  # released at the end of the first `with`
        pass


def test_a_refused_process_leaves_the_holders_record_intact(tmp_path):
    with hold_run_lock(tmp_path) as me:
        with pytest.raises(RunLocked):
            with hold_run_lock(tmp_path):
                pass
        assert read_holder(tmp_path / LOCK_FILE) == me


def test_a_holder_killed_with_sigkill_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FOREVER, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=f"pid {holder.pid} on"):
            with hold_run_lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with hold_run_lock(tmp_path) as me:  # taken at once, and the record is the new holder's
        assert read_holder(tmp_path / LOCK_FILE) == me


def test_another_srun_task_goes_on_once_its_own_job_holds_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "40")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    with hold_run_lock(tmp_path) as rank0:  # same job: what rank 0 of this task's job wrote
        with under_rank0(tmp_path, timeout_s=1.0) as holder:
            assert holder == rank0


def test_another_srun_task_stops_when_another_job_holds_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "40")
    with hold_run_lock(tmp_path):
        monkeypatch.setenv("SLURM_JOB_ID", "41")  # this task's rank 0 was refused: it never takes the run
        with pytest.raises(RunLocked, match="SLURM job 40"):
            with under_rank0(tmp_path, timeout_s=0.2, poll_s=0.05):
                pytest.fail("went on under another job's lock")

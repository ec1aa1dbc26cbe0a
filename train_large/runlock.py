"""One process per run directory: an exclusive lock held for the whole life of a run.

Two trainers in one run directory interleave their records and checkpoints (seen: 27 duplicate
train records and a clock going backwards after two identical commands 4 s apart). Every
training and compression job therefore holds `<run dir>/run.lock` from before it reads the
directory until it ends; a second process that finds it held stops with one line naming the
holder.

The lock is `flock(2)` on the file. The kernel drops it when the holder's descriptor closes, so
a killed or preempted run never leaves a stale lock, and a requeued job takes it again at once.
The file's text records the holder (host, pid, SLURM job id, start time) for that message; it is
left in place afterwards, and its content means nothing while nobody holds the lock.

Shared filesystems: Linux NFS clients (v3 with lockd, v4) turn flock into byte-range locks that
the server arbitrates, so the lock holds across nodes. Lustre does the same only when mounted
with `-o flock`; under `-o localflock` it holds per node only, and with neither option flock
fails, which is logged as a warning and the run goes on unlocked. Must not import torch,
fairseq or wandb.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Optional

LOCK_FILE = "run.lock"
# Seconds an srun task other than rank 0 waits for its rank 0 to take the run: rank 0 starts at the
# same moment, and takes the lock before it reads anything, so this is startup jitter across nodes.
RANK0_WAIT_S = 120.0
# errno values of a filesystem that cannot lock at all (as opposed to a lock that is held)
_NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}

log = logging.getLogger(__name__)


class RunLocked(RuntimeError):
    """Another process holds the run directory; the message is one line naming it and the holder."""

    def __init__(self, run_dir: Path, holder: Optional["Holder"]) -> None:
        self.run_dir, self.holder = Path(run_dir), holder
        who = holder.describe() if holder else "another process (it has not recorded itself yet)"
        super().__init__(f"{run_dir} is in use by {who}; wait for it to end or stop it, then run this "
                         "command again")


@dataclass(frozen=True)
class Holder:
    """Who holds a run directory's lock."""

    host: str
    pid: int
    slurm_job_id: Optional[str]  # as squeue shows it: <array job>_<task> for array jobs
    started_at: float  # unix seconds

    @classmethod
    def this_process(cls) -> "Holder":
        env = os.environ
        job = env.get("SLURM_JOB_ID")
        if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
            job = f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
        return cls(socket.gethostname(), os.getpid(), job, time.time())

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        job = f", SLURM job {self.slurm_job_id}" if self.slurm_job_id else ""
        return f"pid {self.pid} on {self.host}{job} (since {started})"


@contextmanager
def hold_run_lock(run_dir: Path) -> Iterator[Holder]:
    """Hold `run_dir`'s lock for the body of the `with`; yields this process as the holder.

    Raises:
        RunLocked: another process holds it (checked once, without waiting).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    # Not O_TRUNC: a process that is refused must not wipe the holder's record before reading it.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if _lock(fd, path):
            me = Holder.this_process()
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(asdict(me)) + "\n").encode(), 0)
        else:
            raise RunLocked(run_dir, read_holder(path))
        yield me
    finally:
        os.close(fd)  # releases the lock (the record stays, stale, until the next holder rewrites it)


@contextmanager
def under_rank0(run_dir: Path, timeout_s: float = RANK0_WAIT_S, poll_s: float = 0.5) -> Iterator[Holder]:
    """For an srun task other than rank 0: go on once the lock file names this SLURM job as its
    holder (rank 0 took the run for all tasks of the job); yields that holder.

    Such a task must not take the lock itself (that could refuse its own rank 0), but it must not
    wait for a rank 0 that was refused either: rank 0 then never starts the process group, and the
    task would sit in the rendezvous for hours holding its GPUs.

    Raises:
        RunLocked: after `timeout_s` seconds the file still names another holder (or none).
    """
    me = Holder.this_process()
    deadline = time.monotonic() + timeout_s
    while True:
        holder = read_holder(Path(run_dir) / LOCK_FILE)
        if holder is not None and holder.slurm_job_id == me.slurm_job_id:
            yield holder
            return
        if time.monotonic() >= deadline:
            raise RunLocked(run_dir, holder)
        time.sleep(poll_s)


def _lock(fd: int, path: Path) -> bool:
    """True once this process holds the lock, False if another does; a filesystem without locks
    is warned about and treated as unlocked (refusing every run there would stop all work)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno not in _NO_LOCKS:
            raise
        log.warning("cannot lock %s (%s): this filesystem has no file locks, so nothing stops a second "
                    "process from using this run directory at the same time", path, os.strerror(err.errno))
        return True


def read_holder(path: Path) -> Optional[Holder]:
    """The holder recorded in a lock file, or None when it is empty or unreadable (a holder that has
    just taken the lock and not yet written itself)."""
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
        return Holder(str(fields["host"]), int(fields["pid"]), fields.get("slurm_job_id"),
                      float(fields["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None

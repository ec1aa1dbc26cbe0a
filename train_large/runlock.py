"""One process per run directory: an exclusive `flock(2)` on `<run dir>/run.lock`, held from before a
job reads the directory until it ends (seen without it: 27 duplicate records and a clock going
backwards from two identical commands). The kernel drops it when its holder dies, so it is never
stale; the file's text names the holder and means nothing unlocked. NFS, and Lustre mounted with
`-o flock`, lock across nodes; `localflock` per node; without locks, a warning and no lock.
Must not import torch, fairseq or wandb."""
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
# Seconds an srun task other than rank 0 waits for its rank 0 to take the run (startup jitter across nodes).
RANK0_WAIT_S = 120.0
# errno values of a filesystem that cannot lock at all (as opposed to a lock that is held)
_NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}

log = logging.getLogger(__name__)


class RunLocked(RuntimeError):
    """Another process holds the run directory; the message is one line naming it and the holder."""

    def __init__(self, run_dir: Path, holder: Optional["Holder"]) -> None:
        who = holder.describe() if holder else "another process (it has not recorded itself yet)"
        super().__init__(f"{run_dir} is in use by {who}; wait for it to end or stop it, then run this "
                         "command again")


@dataclass(frozen=True)
class Holder:
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
    """Hold `run_dir`'s lock for the `with` body, yielding this process; RunLocked if another holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    # Not O_TRUNC: a process that is refused must not wipe the holder's record before reading it.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _lock(fd, path):
            raise RunLocked(run_dir, read_holder(path))
        me = Holder.this_process()
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(asdict(me)) + "\n").encode(), 0)
        yield me
    finally:
        os.close(fd)  # releases the lock (the record stays, stale, until the next holder rewrites it)


@contextmanager
def under_rank0(run_dir: Path, timeout_s: float = RANK0_WAIT_S, poll_s: float = 0.5) -> Iterator[Holder]:
    """For an srun task other than rank 0: go on once the lock file names this SLURM job, else RunLocked
    after `timeout_s`. Taking the lock could refuse its own rank 0; waiting for a refused rank 0 would
    sit in the rendezvous for hours holding GPUs."""
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
    """True once this process holds the lock, False if another does; a filesystem without locks is
    warned about and treated as unlocked (refusing every run there would stop all work)."""
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
    """The holder a lock file names; None when empty or unreadable (a holder still writing itself)."""
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
        return Holder(str(fields["host"]), int(fields["pid"]), fields.get("slurm_job_id"),
                      float(fields["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None

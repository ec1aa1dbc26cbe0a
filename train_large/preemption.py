"""Preemption: SIGTERM, SIGUSR1 and SIGUSR2 become a checkpoint and a clean exit.

SLURM sends SIGTERM when it preempts, requeues or cancels a job (and SIGKILL KillWait seconds
later, 30 by default), and a chosen signal some time before the time limit (`--signal=USR1@90`;
submitit asks for SIGUSR2). While a run trains, these signals only set a flag. The loop looks at
it after every update: it saves a checkpoint and the run stops, within one update and one
checkpoint write of the signal (a validation in progress finishes first). The next start of the
same command resumes from that checkpoint.

submitit (hydra/launcher=slurm) installs its own handlers before the job starts: SIGUSR2 requeues
the job and exits, SIGTERM is logged and ignored, which would leave a requeued or preempted job
training until SIGKILL and lose everything since its last checkpoint. Here each of the three
first saves the checkpoint; then an earlier Python handler (submitit's) is called, so SIGUSR2
still requeues the job; then the run exits with status 128 + the signal number, as if the signal
had ended it, so neither a scheduler nor a sweep mistakes it for a finished run.
Must not import fairseq or wandb.
"""
from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Any, Callable, NoReturn

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


class StopSignals:
    """`with StopSignals() as signals:` turns the stop signals into `signals.requested()` for as
    long as the block runs, and restores the earlier handlers after it.

    forward: also called with each signal as it arrives (a process waiting for its data-parallel
    workers passes it on to them).
    """

    def __init__(self, forward: Callable[[int], None] | None = None) -> None:
        self.received: int | None = None
        self._forward = forward
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        try:
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: this process's owner handles its signals
            self._restore()
            log.info("not in the main thread: stop signals keep their default handling")
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: the handler may interrupt a checkpoint write or an update at any byte.
        if self.received is None:
            self.received = signum
        if self._forward is not None:
            self._forward(signum)

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def requested(self) -> bool:
        return self.received is not None

    def stop(self, where: str) -> NoReturn:
        """End the run after its checkpoint is saved: the earlier handler's turn, then exit.

        `where`: what was saved, for the log line (e.g. "checkpoints/last.pt at 12.3 training seconds").
        """
        signum = self.received if self.received is not None else signal.SIGTERM
        previous = self._previous.get(signum)
        self._restore()
        log.warning("%s received: stopped after saving %s; run the same command again to resume",
                    signal.Signals(signum).name, where)
        if callable(previous):  # submitit's: SIGUSR2 requeues the job and exits, SIGTERM is logged
            previous(signum, None)
        raise SystemExit(128 + signum)


def to_child_processes(signum: int) -> None:
    """Send `signum` on to this process's multiprocessing children (the spawned workers)."""
    import multiprocessing

    for child in multiprocessing.active_children():
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass  # it has just ended


def any_process(requested: Callable[[], bool], device: str) -> Callable[[], bool]:
    """A stop check for data-parallel runs: true in every process when it is true in any, so all
    stop at the same update (called once per update by every process, like an all-reduce)."""
    import torch
    import torch.distributed as dist

    def agreed() -> bool:
        flag = torch.tensor([1 if requested() else 0], dtype=torch.int32,
                            device="cuda" if device == "cuda" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    return agreed

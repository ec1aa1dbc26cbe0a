"""Preemption: SIGTERM, SIGUSR1 and SIGUSR2 (SLURM's preemption and `--signal`, submitit's requeue)
set a flag the loop reads after every update; it then saves a checkpoint and the same command
resumes. submitit's own handlers (SIGUSR2 requeues, SIGTERM is only logged, which would train on
until SIGKILL) run after the checkpoint; then the exit status is 128 + the signal number, so no
scheduler or sweep takes it for a finished run. Must not import fairseq or wandb."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
from types import FrameType
from typing import Any, Callable, NoReturn

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


class StopSignals:
    """`with StopSignals() as signals:` turns the stop signals into `signals.requested()` in the block.
    forward: also called with each signal (to pass it on to data-parallel workers)."""

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
        """End the run after its checkpoint (`where`, for the log line) is saved: the earlier handler's
        turn, then exit."""
        signum = self.received if self.received is not None else signal.SIGTERM
        previous = self._previous.get(signum)
        self._restore()
        log.warning("%s received: stopped after saving %s; run the same command again to resume",
                    signal.Signals(signum).name, where)
        if callable(previous):  # submitit's: SIGUSR2 requeues the job and exits, SIGTERM is logged
            previous(signum, None)
        raise SystemExit(128 + signum)


def to_child_processes(signum: int) -> None:
    """Pass `signum` on to this process's multiprocessing children (the spawned workers)."""
    import multiprocessing

    for child in multiprocessing.active_children():
        with contextlib.suppress(ProcessLookupError):  # it has just ended
            os.kill(child.pid, signum)


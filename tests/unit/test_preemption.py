"""Stop signals: real SIGUSR1/SIGUSR2 to this process set a flag; `stop` hands the signal on to an
earlier handler (submitit's requeue) and exits with 128 + the signal number."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from train_large.preemption import STOP_SIGNALS, StopSignals, to_child_processes


def deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)  # Python runs the handler before the next bytecode of this thread


def test_a_stop_signal_only_sets_a_flag_and_stop_exits_with_its_status(caplog):
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    with StopSignals() as signals:
        assert not signals.requested()
        deliver(signal.SIGUSR1)
        assert signals.requested() and signals.received == signal.SIGUSR1  # still running: a flag only
        with pytest.raises(SystemExit) as stopped:
            signals.stop("checkpoints/last.pt at 3.0 training seconds")
    assert stopped.value.code == 128 + signal.SIGUSR1
    assert [r.message for r in caplog.records if "received" in r.message] == [
        "SIGUSR1 received: stopped after saving checkpoints/last.pt at 3.0 training seconds; "
        "run the same command again to resume"]
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before


def test_the_first_signal_wins_and_handlers_are_restored_after_the_block():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as signals:
        deliver(signal.SIGTERM)
        deliver(signal.SIGUSR1)
        assert signals.received == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_earlier_python_handler_gets_the_signal_after_the_checkpoint():
    """submitit's SIGUSR2 handler requeues the job and exits; it must still run, after our save."""
    calls: list[int] = []

    def requeue_and_exit(signum, frame):
        calls.append(signum)
        raise SystemExit(-1)  # what submitit does once the job is requeued

    previous = signal.signal(signal.SIGUSR2, requeue_and_exit)
    try:
        with StopSignals() as signals:
            deliver(signal.SIGUSR2)
            assert calls == []  # not during the update or the checkpoint write
            with pytest.raises(SystemExit) as stopped:
                signals.stop("checkpoints/last.pt")
        assert calls == [signal.SIGUSR2] and stopped.value.code == -1
        assert signal.getsignal(signal.SIGUSR2) is requeue_and_exit
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_an_earlier_handler_that_ignores_sigterm_does_not_keep_the_run_going():
    """submitit logs and ignores SIGTERM; a requeued job must still stop, not train until SIGKILL."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        with StopSignals() as signals:
            deliver(signal.SIGTERM)
            with pytest.raises(SystemExit) as stopped:
                signals.stop("checkpoints/last.pt")
        assert calls == [signal.SIGTERM] and stopped.value.code == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_the_main_thread_signals_keep_their_handlers():
    seen: list[bool] = []

    def enter() -> None:
        with StopSignals() as signals:
            seen.append(signals.requested())

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert seen == [False] and signal.getsignal(signal.SIGTERM) == before


def test_a_waiting_parent_passes_the_signal_on_to_its_workers():
    """A local data-parallel run: `kill <tlc-train pid>` must reach the spawned workers too."""
    worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    worker.start()
    try:
        with StopSignals(forward=to_child_processes) as signals:
            deliver(signal.SIGTERM)
            worker.join(timeout=30)
            assert signals.requested()
        assert worker.exitcode == -signal.SIGTERM  # the worker got it (here: default action)
    finally:
        worker.kill()
        worker.join()

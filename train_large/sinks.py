"""Where records go: the sink protocol and the local sinks. metrics.jsonl is the source of truth, and
its failure stops the run; an optional sink (W&B) is opened and used behind a guard (`fan_out`):
its failure is reported once and never stops training. Must not import wandb or fairseq."""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    def log(self, record: dict) -> None: ...

    def summary(self, values: dict) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One flushed JSON line per record: a killed process loses at most the line being written. It
    fsyncs valid and test records, train records at most once a second, and the file on close: one
    fsync costs 0.5-2 ms on a shared disk, 1-2% of a toy run's wall time (python -m scripts.bench)."""

    SYNC_EVERY_SECONDS = 1.0  # wall seconds of train records a machine crash can take, at most

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")
        self.count = 0
        self._synced = time.monotonic()

    def log(self, record: dict) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        now = time.monotonic()
        if record.get("kind") != "train" or now - self._synced >= self.SYNC_EVERY_SECONDS:
            os.fsync(self._handle.fileno())
            self._synced = now
        self.count += 1

    def summary(self, values: dict) -> None:
        pass  # result.json holds the summary; the log stays one kind of line

    def close(self) -> None:
        if not self._handle.closed:
            os.fsync(self._handle.fileno())
            self._handle.close()


class GuardedSink:
    """Wraps an optional sink (W&B) so its failure is reported once and never stops training."""

    def __init__(self, inner: Sink, name: str) -> None:
        self.inner: Sink | None = inner
        self.name = name

    def _call(self, method: str, *args: object) -> None:
        if self.inner is None:
            return
        try:
            getattr(self.inner, method)(*args)
        except Exception as err:  # noqa: BLE001 - any failure of an optional sink is survivable
            log.warning("%s sink failed in %s (%s: %s); local records continue, %s is off for this run",
                        self.name, method, type(err).__name__, err, self.name)
            self.inner = None

    def log(self, record: dict) -> None:
        self._call("log", record)

    def summary(self, values: dict) -> None:
        self._call("summary", values)

    def close(self) -> None:
        self._call("close")


def fan_out(truth: Sink, optional: Mapping[str, Callable[[], Sink]]) -> FanOut:
    """Every record to `truth` and to each optional sink, by name, that opens (a missing package, no
    API key for an online run, its init raising: one warning), each behind its own guard."""
    sinks: list[Sink] = [truth]
    for name, open_sink in optional.items():
        try:
            sinks.append(GuardedSink(open_sink(), name))
        except Exception as err:  # noqa: BLE001 - any failure of an optional sink is survivable
            log.warning("%s unavailable (%s: %s); local records only", name, type(err).__name__, err)
    return FanOut(sinks)


class FanOut:
    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def log(self, record: dict) -> None:
        for sink in self.sinks:
            sink.log(record)

    def summary(self, values: dict) -> None:
        for sink in self.sinks:
            sink.summary(values)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

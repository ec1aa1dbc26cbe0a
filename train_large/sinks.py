"""Where records go: a tiny protocol and the local implementations.

Every record the loop produces is a flat dict with `kind` (train/valid/test), `train_seconds`,
`wall_seconds`, `updates`, `tokens` and metrics. The loop hands each one to every sink. The
JSONL sink is the source of truth; the W&B sink (`train_large.wandb_sink`) is one more sink.
Must not import wandb or fairseq.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Sink(Protocol):
    def log(self, record: dict) -> None: ...

    def summary(self, values: dict) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Appends one JSON line per record and fsyncs, so a kill loses at most the line being written."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")
        self.count = 0

    def log(self, record: dict) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.count += 1

    def summary(self, values: dict) -> None:
        pass  # result.json holds the summary; the log stays one kind of line

    def close(self) -> None:
        self._handle.close()


class MemorySink:
    """Keeps records in a list: for tests."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.summaries: list[dict] = []
        self.closed = False

    def log(self, record: dict) -> None:
        self.records.append(dict(record))

    def summary(self, values: dict) -> None:
        self.summaries.append(dict(values))

    def close(self) -> None:
        self.closed = True


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


class FanOut:
    """Sends every record to every sink."""

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

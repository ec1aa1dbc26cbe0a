"""A sink that keeps what it is given in lists, for tests of the sink protocol."""
from __future__ import annotations


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

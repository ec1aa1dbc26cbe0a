"""The training clock, the paper's x-axis: only time inside `with clock.training():` counts; eval
and checkpoints are timed outside the budget (`clock.timed`). On CUDA it synchronises before each
reading, so queued kernels are charged to their update. Must not import fairseq or wandb."""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Callable, Iterator


@dataclass
class Lap:
    seconds: float = 0.0


class TrainingClock:
    """Training seconds (budgeted) and wall seconds (everything), both restored on resume."""

    def __init__(self, sync: Callable[[], None] | None = None, now: Callable[[], float] = time.perf_counter,
                 state: dict | None = None, agree: Callable[[float], float] | None = None) -> None:
        """agree: makes data-parallel processes share rank 0's reading after each update."""
        self._sync = sync or (lambda: None)
        self._agree = agree or (lambda seconds: seconds)
        self._now = now
        state = state or {}
        self._train = float(state.get("train_seconds", 0.0))
        self._wall_before = float(state.get("wall_seconds", 0.0))
        self.spent: dict[str, float] = defaultdict(float, state.get("spent", {}))
        self._started = now()

    @property
    def train_seconds(self) -> float:
        return self._train

    @property
    def wall_seconds(self) -> float:
        return self._wall_before + (self._now() - self._started)

    @contextmanager
    def training(self) -> Iterator[None]:
        """Charge the enclosed work to the training budget."""
        self._sync()
        start = self._now()
        try:
            yield
        finally:
            self._sync()
            self._train = self._agree(self._train + self._now() - start)

    @contextmanager
    def timed(self, name: str) -> Iterator[Lap]:
        """Time the enclosed work under `name` (eval, bleu, checkpoint), outside the budget; the
        yielded lap holds its seconds once the block has ended."""
        lap = Lap()
        start = self._now()
        try:
            yield lap
        finally:
            lap.seconds = self._now() - start
            self.spent[name] += lap.seconds

    def state_dict(self) -> dict:
        return {"train_seconds": self._train, "wall_seconds": self.wall_seconds, "spent": dict(self.spent)}


def cuda_sync() -> None:
    import torch

    torch.cuda.synchronize()

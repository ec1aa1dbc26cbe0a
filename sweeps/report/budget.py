"""The budgets `--advise` takes (`train_seconds=3600 bytes=50e6`), parsed and checked before
anything is read: a malformed one is one line naming the item and what is allowed. Imports
nothing of the report, so a bad argument is answered at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

BUDGET_KEYS = {"train_seconds": "training seconds (update time only)", "flops": "training FLOPs",
               "bytes": "bytes of the compressed model"}


class BudgetError(ValueError):
    """A malformed --advise argument; the message is the one line shown to the user."""


@dataclass(frozen=True)
class Budget:
    train_seconds: float | None = None
    flops: float | None = None
    bytes: float | None = None


def parse_budget(items: list[str]) -> Budget:
    """`train_seconds=3600 bytes=50e6` -> Budget.

    Raises:
        BudgetError: an item is not KEY=NUMBER, the key is unknown, the number is not positive, or a key
            repeats.
    """
    allowed = ", ".join(f"{key}=<{what}>" for key, what in BUDGET_KEYS.items())
    values: dict[str, float] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in BUDGET_KEYS:
            raise BudgetError(f"--advise {item!r}: expected KEY=NUMBER with KEY one of {allowed}")
        try:
            value = float(text)
        except ValueError:
            raise BudgetError(f"--advise {key}={text!r}: not a number; give a positive number, e.g. {key}=3600 "
                              f"or {key}=5e7") from None
        if not math.isfinite(value) or value <= 0:
            raise BudgetError(f"--advise {key}={text}: must be a positive number")
        if key in values:
            raise BudgetError(f"--advise {key} is given twice")
        values[key] = value
    if values.get("train_seconds") and values.get("flops"):
        raise BudgetError("--advise: give train_seconds or flops as the training budget, not both")
    return Budget(**values)

"""The machine a benchmark or reproduction ran on, as its result files record it: helpers shared by
scripts/bench.py, bench_int8.py and reproduce_record.py. Must not import torch or fairseq.
"""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's marketing name: /proc/cpuinfo's on Linux (platform.processor() there is only the
    architecture), else platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def distribution_version(module: str) -> str | None:
    """The installed version of the distribution providing `module`, without importing it (fairseq's
    import takes seconds; ours is the fairseq-fixed fork)."""
    from importlib import metadata

    for name in metadata.packages_distributions().get(module, []):
        return metadata.version(name)
    return None

"""The machine a benchmark or reproduction ran on, as its result files record it: helpers shared by
the benchmark's sections and scripts/reproduce_record.py. Must not import torch or fairseq at import
time (the reproduction record has no use for them); the descriptions import torch when called.
"""
from __future__ import annotations

import os
import platform
import time
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
    return platform.processor() or platform.machine() or "unknown"


def distribution_version(module: str) -> str | None:
    """The installed version of the distribution providing `module`, without importing it (fairseq's
    import takes seconds; ours is the fairseq-fixed fork)."""
    from importlib import metadata

    for name in metadata.packages_distributions().get(module, []):
        return metadata.version(name)
    return None


def describe_machine() -> dict:
    """What the suite's figures were measured on: CPU model and cores, GPU name and memory (None
    without CUDA), torch, CUDA and fairseq versions, the date and the load average (1, 5, 15 minutes)."""
    import torch

    gpu = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
               "count": torch.cuda.device_count()}
    return {"host": platform.node(), "cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "gpu": gpu,
            "torch": torch.__version__, "cuda": torch.version.cuda, "fairseq": distribution_version("fairseq"),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "load_average": os.getloadavg()}


def describe_cpu(threads: int) -> dict:
    """What the int8 section's latencies were measured on; key names as describe_machine's, so one
    reader serves both."""
    import datetime

    import torch

    return {"cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "quantized_engine": torch.backends.quantized.engine, "python": platform.python_version(),
            "load_average": list(os.getloadavg()),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}

"""The values of `hydra/launcher=gpus` and `=slurm`, checked before anything starts, one line per bad
value (Hydra builds the launcher only once a multirun starts, and reports it with a stack-trace hint).

For SLURM, `sinfo` also says whether a node of the partition can hold one run: sbatch accepts a job
no node can hold unless the cluster enforces partition limits, and it then pends forever (the
preset's 8 CPUs per run on a 2-CPU node waits with reason PartitionConfig). Only a request no node
could ever hold is refused (features, `exclude`, busy or down nodes are not considered); without
`sinfo`, or when it fails, nothing is checked. Must not import fairseq, wandb, Ray or submitit.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Any, Callable

# sinfo -N -o: one line per node and partition: name, CPUs, memory (MB), generic resources
# (`gpu:2`, `gpu:a100:4(S:0-1)`, `(null)`), partition (the default one ends in `*`).
SINFO_FORMAT = "%N|%c|%m|%G|%P"
SINFO_TIMEOUT_S = 15  # a cluster whose controller does not answer in this time is not checked
MB_PER_UNIT = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}  # SLURM's memory suffixes; none = MB


# The least value of each counted setting, by launcher class (`_target_`'s last part); None (the
# cluster's or Ray's default) is always fine.
MINIMUMS: dict[str, dict[str, tuple[int, str]]] = {
    "GpuLauncher": {  # hydra_plugins/tlc_launchers/gpu_launcher.py
        "gpus_per_job": (0, "GPUs per job; 0 = CPU jobs"),
        "num_gpus": (0, "GPUs a Ray started here declares"),
        "cpu_slots": (1, "jobs at once without GPUs"),
        "cpus_per_job": (0, "CPU cores each job reserves"),
        "stall_after_s": (0, "seconds with jobs pending and none running before saying why; 0 = never"),
    },
    "SlurmLauncher": {  # hydra_plugins/tlc_launchers/slurm_launcher.py (hydra-submitit-launcher's SlurmQueueConf)
        "timeout_min": (1, "minutes per attempt"),
        "nodes": (1, "nodes per run"),
        "tasks_per_node": (1, "processes per node"),
        "gpus_per_node": (0, "GPUs per run"),
        "cpus_per_task": (1, "CPU cores per run"),
        "mem_gb": (1, "GB of memory per node"),
        "array_parallelism": (1, "runs at once"),
        "signal_delay_s": (0, "seconds of warning before the time limit"),
        "max_num_timeout": (0, "requeues after a timeout"),
        "poll_s": (1, "seconds between squeue calls"),
        "heartbeat_s": (1, "seconds between state lines"),
    },
}


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    mem_mb: int
    gpus: int
    partition: str
    default: bool  # in the cluster's default partition


@dataclass(frozen=True)
class Ask:
    """What one run asks of each of its nodes, and the setting that asks it."""
    setting: str  # hydra.launcher key, e.g. cpus_per_task
    value: Any  # its value, as given
    amount: float  # per node, in the resource's unit: CPUs, MB or GPUs
    resource: str  # "cpus" | "mem_mb" | "gpus" (a Node field)
    per: int = 1  # amount = value x per
    per_what: str = ""  # what `per` counts, for the line: "tasks_per_node=2", "2 CPUs"


def parse_sinfo(text: str) -> list[Node]:
    """Nodes from `sinfo -h -N -o SINFO_FORMAT` output; lines that do not parse are skipped."""
    nodes = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 5 or not fields[1].isdigit() or not fields[2].isdigit():
            continue
        name, cpus, mem, gres, partition = fields
        nodes.append(Node(name, int(cpus), int(mem), gpu_count(gres), partition.rstrip("*"), partition.endswith("*")))
    return nodes


def gpu_count(gres: str) -> int:
    """GPUs in a generic-resource list: `gpu:2` -> 2, `gpu:a100:4(S:0-1),mps:100` -> 4, `(null)` -> 0."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        parts = item.strip().split(":")
        if parts[0] == "gpu":
            total += int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return total


def mem_mb(spec: Any) -> float | None:
    """Megabytes in a SLURM memory size (`4000`, `4G`, `512M`); None if it is not one."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", str(spec), flags=re.IGNORECASE)
    return float(found[1]) * MB_PER_UNIT[found[2].upper() or "M"] if found else None


def read_nodes() -> list[Node] | None:
    """Every node of every partition (hidden ones too), or None when sinfo is missing or fails."""
    try:
        done = subprocess.run(["sinfo", "--all", "--noheader", "--Node", f"--format={SINFO_FORMAT}"],
                              capture_output=True, text=True, timeout=SINFO_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_sinfo(done.stdout) if done.returncode == 0 else None


def launcher_problems(launcher: Any, slurm_nodes: Callable[[], list[Node] | None] = read_nodes) -> list[str]:
    """One line per `hydra.launcher` value below its minimum, or else, for SLURM, per setting no
    node of the partition can give. `slurm_nodes()`: the cluster's nodes, None where it cannot say."""
    target = str(launcher.get("_target_", "")) if launcher is not None else ""
    launcher_class = target.rpartition(".")[2]
    problems = []
    for key, (least, meaning) in MINIMUMS.get(launcher_class, {}).items():
        value = launcher.get(key)
        if isinstance(value, (int, float)) and value < least:
            problems.append(f"hydra.launcher.{key}={value} must be >= {least} ({meaning})")
    if launcher_class == "SlurmLauncher" and not problems:
        problems = partition_problems(launcher, slurm_nodes())
    return problems


def partition_problems(launcher: Any, nodes: list[Node] | None) -> list[str]:
    """One line per setting that no node of the run's partition can give; [] when `nodes` is None."""
    if not nodes:
        return []
    wanted = str(_get(launcher, "partition") or "")
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    known = sorted({node.partition for node in nodes})
    unknown = [name for name in names if name not in known]
    if unknown:
        return [f"hydra.launcher.partition={wanted}: {unknown[0]} is not a partition of this cluster; "
                f"choose one of: {', '.join(known)}"]
    members = [node for node in nodes if (node.partition in names if names else node.default)]
    if not members:
        return []  # no default partition: sbatch will say so
    where = f"partition {','.join(names) if names else members[0].partition}"
    wants = asks(launcher)
    problems = [line for line in (_too_big(ask, members, where) for ask in wants) if line]
    if not problems and not any(all(ask.amount <= getattr(node, ask.resource) for ask in wants) for node in members):
        problems.append(f"hydra.launcher asks for {', '.join(_amount(ask.amount, ask) for ask in wants)} per node, "
                        f"which no single node of {where} has together (see sinfo -N -o '%N %c %m %G')")
    count = len({node.name for node in members})
    runs_on = _int(launcher, "nodes") or 1
    if runs_on > count:
        problems.append(f"hydra.launcher.nodes={runs_on} asks for {runs_on} nodes but {where} has {count}; "
                        f"set hydra.launcher.nodes<={count}")
    return problems


def asks(launcher: Any) -> list[Ask]:
    """One Ask per resource a run asks of each node, as sbatch reads the settings."""
    tasks = _int(launcher, "tasks_per_node") or 1
    gpus = _gpu_ask(launcher, tasks)
    cpus = _cpu_ask(launcher, tasks, int(gpus.amount) if gpus else 0)
    mem = _mem_ask(launcher, int(cpus.amount) if cpus else 0, int(gpus.amount) if gpus else 0)
    return [ask for ask in (cpus, mem, gpus) if ask]


def _gpu_ask(launcher: Any, tasks: int) -> Ask | None:
    if gpus := _int(launcher, "gpus_per_node"):
        return Ask("gpus_per_node", gpus, gpus, "gpus")
    if gpus := _int(launcher, "gpus_per_task"):
        return Ask("gpus_per_task", gpus, gpus * tasks, "gpus", tasks, f"tasks_per_node={tasks}")
    if gpus := gpu_count(str(_get(launcher, "gres") or "")):
        return Ask("gres", _get(launcher, "gres"), gpus, "gpus")
    return None


def _cpu_ask(launcher: Any, tasks: int, gpus: int) -> Ask | None:
    if cpus := _int(launcher, "cpus_per_task"):
        return Ask("cpus_per_task", cpus, cpus * tasks, "cpus", tasks, f"tasks_per_node={tasks}")
    if (cpus := _int(launcher, "cpus_per_gpu")) and gpus:
        return Ask("cpus_per_gpu", cpus, cpus * gpus, "cpus", gpus, f"{gpus} GPUs")
    return None


def _mem_ask(launcher: Any, cpus: int, gpus: int) -> Ask | None:
    if gb := _int(launcher, "mem_gb"):
        return Ask("mem_gb", gb, gb * 1024, "mem_mb")  # submitit passes --mem=<mem_gb>GB; SLURM's GB is 1024 MB
    for setting, count, what in (("mem_per_cpu", cpus, "CPUs"), ("mem_per_gpu", gpus, "GPUs")):
        value = _get(launcher, setting)
        if count and (each := mem_mb(value)):
            return Ask(setting, value, each * count, "mem_mb", count, f"{count} {what}")
    return None


def _too_big(ask: Ask, members: list[Node], where: str) -> str | None:
    largest = max(members, key=lambda node: getattr(node, ask.resource))
    has = getattr(largest, ask.resource)
    if ask.amount <= has:
        return None
    setting = f"hydra.launcher.{ask.setting}"
    times = f" ({ask.value} x {ask.per_what})" if ask.per > 1 else ""
    asked = f"{_amount(ask.amount, ask)} per node{times}"
    if has == 0:
        return f"{setting}={ask.value} asks for {asked} but no node of {where} has any; set {setting}=null"
    return (f"{setting}={ask.value} asks for {asked} but the largest node of {where} has {_amount(has, ask)} "
            f"(node {largest.name}); {_fix(ask, has)}")


def _amount(amount: float, ask: Ask) -> str:
    if ask.resource == "mem_mb":
        return f"{amount // 1024:.0f} GB" if ask.setting == "mem_gb" else f"{amount:.0f} MB"
    unit = "CPU" if ask.resource == "cpus" else "GPU"
    return f"{amount:.0f} {unit}{'' if amount == 1 else 's'}"


def _fix(ask: Ask, has: int) -> str:
    """The largest value of the setting that fits the largest node."""
    setting = f"hydra.launcher.{ask.setting}"
    most = int(has // 1024 if ask.setting == "mem_gb" else has // ask.per)
    if most < 1 and ask.per_what.startswith("tasks_per_node"):
        return f"set hydra.launcher.tasks_per_node<={has // ask.value}"
    if most < 1:
        return f"ask for fewer {ask.per_what.split(' ')[-1]}"
    if ask.setting == "gres":
        return f"set {setting}=gpu:{most}"
    return f"set {setting}<={most}{'M' if ask.setting in ('mem_per_cpu', 'mem_per_gpu') else ''}"


def _get(launcher: Any, key: str) -> Any:
    """A launcher value, or None where it is missing or cannot be resolved (`${hydra.sweep.dir}`
    needs a running Hydra)."""
    try:
        return launcher.get(key)
    except Exception:  # noqa: BLE001 - OmegaConf raises several types for an interpolation it cannot resolve
        return None


def _int(launcher: Any, key: str) -> int:
    value = _get(launcher, key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

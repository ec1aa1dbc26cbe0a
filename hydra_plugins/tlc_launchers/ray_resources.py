"""What one job of a Ray sweep asks for, and whether a node of the cluster can give it.

Ray places a task on one node and waits without a word, forever, for a node that can hold all of
its request; so a request is checked per node (`ray.nodes()`' totals) before anything is submitted.
Resource names are Ray's: "CPU", "GPU", "memory" (bytes), custom ones such as "cpu_slot".
Pure functions of plain dicts; must not import Ray or train_large.
"""
# No `from __future__ import annotations`: Hydra's plugin scan imports every module of this
# package before it is in sys.modules (see gpu_launcher.py).
from typing import Any, Dict, Mapping, Optional, Sequence

CPU_SLOT = "cpu_slot"  # custom Ray resource: one per concurrent CPU-only job
NAMES = {"CPU": "CPUs", "GPU": "GPUs"}
GIB = 1024 ** 3


def job_request(options: Mapping[str, Any]) -> Dict[str, float]:
    """The resources one task with these `ray.remote` options holds while it runs (zeros left out)."""
    request = {"CPU": float(options.get("num_cpus", 1)),  # Ray's default for a task
               "GPU": float(options.get("num_gpus", 0) or 0),
               "memory": float(options.get("memory", 0) or 0)}
    request.update({name: float(n) for name, n in (options.get("resources") or {}).items()})
    if options.get("accelerator_type"):  # Ray asks for a sliver of this resource to pick the node type
        request[f"accelerator_type:{options['accelerator_type']}"] = 0.001
    return {name: n for name, n in request.items() if n > 0}


def request_settings(remote: Mapping[str, Any], cpus_per_job: int, gpus_per_job: int) -> Dict[str, str]:
    """The setting to name for each resource of a job's request. `remote`: hydra.launcher.ray.remote."""
    def own(key: str, value: Any) -> str:
        return f"hydra.launcher.ray.remote.{key}={value}"

    settings = {"CPU": own("num_cpus", remote["num_cpus"]) if "num_cpus" in remote
                else f"hydra.launcher.cpus_per_job={cpus_per_job}",
                "GPU": own("num_gpus", remote["num_gpus"]) if "num_gpus" in remote
                else f"hydra.launcher.gpus_per_job={gpus_per_job}",
                CPU_SLOT: f"a CPU-only job (one {CPU_SLOT} each)"}
    if "memory" in remote:
        settings["memory"] = own("memory", remote["memory"])
    if remote.get("accelerator_type"):
        settings[f"accelerator_type:{remote['accelerator_type']}"] = own("accelerator_type", remote["accelerator_type"])
    settings.update({name: own(f"resources.{name}", n) for name, n in (remote.get("resources") or {}).items()})
    return settings


def amount_text(resource: str, amount: float) -> str:
    """`4 CPUs`, `1 GPU`, `16.0 GiB of memory`, `1 cpu_slot`."""
    if resource == "memory":
        return f"{amount / GIB:.1f} GiB of memory"
    return f"{amount:g} {resource if amount == 1 and resource in NAMES else NAMES.get(resource, resource)}"


def free_text(resource: str, available: float, total: float) -> str:
    """`3 of 8 CPUs`, `0.5 of 16.0 GiB of memory`."""
    shown = f"{available / GIB:.1f}" if resource == "memory" else f"{available:g}"
    return f"{shown} of {amount_text(resource, total)}"


def request_text(request: Mapping[str, float]) -> str:
    return ", ".join(amount_text(name, n) for name, n in request.items()) or "nothing"


def unfit_line(request: Mapping[str, float], settings: Mapping[str, str],
               nodes: Sequence[Mapping[str, float]]) -> Optional[str]:
    """None when some node (its total resources, `ray.nodes()[i]["Resources"]`) can hold one job;
    else one line naming the setting and the largest node."""
    if any(all(node.get(name, 0) >= n for name, n in request.items()) for node in nodes):
        return None
    if not nodes:
        return f"one job asks for {request_text(request)} but the Ray cluster has no alive node"
    for name, n in request.items():
        largest = max(nodes, key=lambda node: node.get(name, 0))
        if largest.get(name, 0) < n:
            others = ", ".join(f"{NAMES[other]}: {largest.get(other, 0):g}" for other in NAMES if other != name)
            return (f"{settings.get(name, name)} asks for {amount_text(name, n)} per job but the largest node "
                    f"of the Ray cluster has {amount_text(name, largest.get(name, 0))} ({others})")
    shown = "; ".join(request_text({name: node.get(name, 0) for name in request}) for node in nodes[:4])
    return (f"{' and '.join(settings.get(name, name) for name in request)} ask for {request_text(request)} "
            f"per job but no node of the Ray cluster has all of them (nodes: {shown}"
            f"{'; ...' if len(nodes) > 4 else ''})")


def stall_line(request: Mapping[str, float], waited_s: float, available: Mapping[str, float],
               total: Mapping[str, float], nodes: Sequence[Mapping[str, float]],
               settings: Mapping[str, str]) -> str:
    """The line for jobs waiting `waited_s` seconds with none running; with `unfit_line`'s when no
    node can hold a job any more (a node left). `available`, `total`: Ray's resources."""
    free = ", ".join(free_text(name, available.get(name, 0), total.get(name, 0)) for name in request)
    line = (f"no job has started for {waited_s:.0f} s: one job asks for {request_text(request)}; "
            f"the Ray cluster has {free} free")
    unfit = unfit_line(request, settings, nodes)
    return f"{line}. Now {unfit}" if unfit else f"{line} (other work may hold them)"

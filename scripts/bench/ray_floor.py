"""Ray alone, with nothing of ours: the floor under the fan-out ratio. Run as its own process,
`python -m scripts.bench.ray_floor SETTINGS_JSON`, so the time counted is what any `tlc-train -m`
pays before and after its jobs: Python's start, `import ray`, `ray.init` with the launcher's
arguments, a fresh worker per task (`max_calls=1`), `ray.shutdown` and the exit.

SETTINGS_JSON: {"init": ray.init kwargs, "remote": ray.remote options, "jobs": tasks, "seconds": each
task's sleep}. Prints one JSON line: each task's (start, end) in unix seconds. Imports only Ray:
the launcher's modules (Hydra) would be part of what the harness adds, not of the floor.
"""
from __future__ import annotations

import json
import sys
import time


def sleep_for(seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


def main(settings: dict) -> None:
    import ray

    ray.init(**settings["init"])
    task = ray.remote(**settings["remote"])(sleep_for)
    spans = ray.get([task.remote(settings["seconds"]) for _ in range(settings["jobs"])])
    ray.shutdown()
    print(json.dumps({"spans": spans}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))

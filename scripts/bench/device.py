"""The device section on CPU: the measured fp32 matrix-multiply peak, the toy models' training
tokens/s and MFU, and the clock check: the training clock against the same updates timed by a
second host timer (scripts.bench.clock_check), goal within 1%, taken over every toy loop run (the
eval-share section's, when it ran first), and its self-test repeated: the check must fail a
deliberately broken clock (process time). The gpu section does the same on CUDA.
"""
from __future__ import annotations

from .runs import Workspace
from .stats import interval
from .toy import Sizes, toy_setup


def run(space: Workspace, sizes: Sizes, report: dict) -> dict:
    import torch

    from .measure import CPU_MODELS, matmul_peak, throughput

    peak = matmul_peak("cpu", torch.float32, (256, 512, 1024))
    models = {}
    for name, overrides in list(CPU_MODELS.items())[: sizes.cpu_models]:
        cfg, data = toy_setup(space, *overrides)
        models[name] = throughput(cfg, data, "cpu", seconds=sizes.throughput_seconds, peak=peak["flops_per_second"])
        print(f"  {name}: {models[name]['tokens_per_second']:.0f} tok/s, MFU {models[name]['mfu']:.1%}", flush=True)
    return {"peak": peak, "models": models, **clock_check(space, sizes, report)}


def clock_check(space: Workspace, sizes: Sizes, report: dict) -> dict:
    """The clock's error over the toy loop runs, and its self-test repeated `sizes.self_tests` times."""
    from .clock_check import self_test

    from .measure import loop_run

    # The clock check rides on the eval-share section's loop runs when there are some: each is one
    # independent reading of the clock's error.
    runs = dict(report["sections"].get("eval_share", {}).get("toy", {}))
    if not runs:
        cfg, data = toy_setup(space, f"budget.train_seconds={sizes.toy_seconds}", *sizes.toy_eval)
        runs["toy_mt"] = loop_run(cfg, data, "cpu", space.fresh_runs())
    check = runs["toy_mt"]["clock_check"] if "toy_mt" in runs else next(iter(runs.values()))["clock_check"]
    errors = {task: run["clock_error"] for task, run in runs.items()}
    tests = [self_test("cpu") for _ in range(sizes.self_tests)]
    test = tests[0]
    repeats = {"runs": len(tests), "caught": sum(t["caught"] for t in tests), "fault": test["fault"],
               "faulty_error": interval([t["faulty"]["error"] for t in tests]),
               "correct_error": interval([t["correct"]["error"] for t in tests])}
    clock = interval(list(errors.values()))
    print(f"  clock vs {check['timer']}: {clock['mean']:+.3%} over {clock['n']} runs; self-test, {test['fault']}: "
          f"caught {repeats['caught']} of {repeats['runs']}", flush=True)
    return {"clock_error": check["error"], "clock_goal": 0.01, "clock_check": check, "clock_errors": errors,
            "clock_error_interval": clock, "clock_self_test": test, "clock_self_test_repeats": repeats}

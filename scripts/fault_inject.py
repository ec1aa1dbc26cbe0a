#!/usr/bin/env python
"""Fault injection: kill toy training runs at their worst moments, resume them, check nothing is lost.

    python scripts/fault_inject.py                                  # 20 trials (~20 min on 2 busy cores)
    python scripts/fault_inject.py --trials 4 --seed 7 --root /tmp/faults
    python scripts/fault_inject.py --trials 1 --plan update,validation,checkpoint,result

Each trial trains a fresh toy run (toy_mt, width 32, one layer, an 8 s training-clock budget
(--budget), three validations on the way (--validations) and one at the end, a checkpoint
half-way between each two, a train record after every update) and kills it with SIGKILL at the
points of its plan: during an update, during a validation, during a checkpoint write, during
the write of result.json (the fault points of `train_large.faults`; the n-th arrival at a
point, n drawn at random, so a kill lands on a different update, validation or write each
time). After each kill it runs the same command again, until the run completes. The default
plan is one kill per trial at each point in turn, and a second kill at a random later point in
half of the trials. Then it checks the finished run:

- the run completed (result.json, exit status 0);
- metrics.jsonl parses line by line, with one train record per update (1, 2, ... N: none missing,
  none twice), and exactly the validation records the eval schedule asks for, replayed over the
  log's own training clock, plus one final validation and one test record;
- train_seconds (and wall_seconds) never go back, and the run stopped at the first update past
  the budget (within --slack seconds of it);
- last.pt and best.pt load; last.pt holds the final update and clock; best.pt holds the update
  and metrics of the best validation record; result.json agrees with the log;
- no temporary file is left behind.

A double-launch step (`double` in --plan; by default at the end of every fourth trial) starts
the same command twice at once, as a sweep re-run while its jobs still go on would: exactly one
must train (exit 0) and the other must be refused with one line naming the holder (exit 2).

It prints a table of trials, kill points and outcomes, and exits 1 if any trial lost something.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from train_large import faults  # noqa: E402
from train_large.checkpoint import BEST, LAST, checkpoint_path, load_checkpoint  # noqa: E402
from train_large.evaluate import is_better  # noqa: E402
from train_large.loop import next_mark  # noqa: E402
from train_large.rundir import CHECKPOINT_DIR, METRICS_FILE, TEMPORARY_SUFFIX, read_result  # noqa: E402

TLC_TRAIN = str(Path(sys.executable).parent / "tlc-train")
# The n of each kill is drawn from 1..MOST[point]: arrivals an attempt of the toy run reaches on
# a busy machine (a kill that is not reached lets that attempt finish; the table says so).
MOST = {"update": 4, "validation": 2, "checkpoint": 3, "result": 1, "double": 1}
DOUBLE = "double"  # a plan step that is not a kill: the same command started twice at once
ATTEMPT_TIMEOUT = 600.0  # seconds; a toy attempt takes well under a minute


@dataclass
class Toy:
    """The toy run every trial trains: `validations` on the way and one at the end, a checkpoint
    half-way between each two (seconds are training-clock seconds)."""

    budget: float = 8.0
    validations: int = 3

    @property
    def eval_every(self) -> float:
        return self.budget / (self.validations + 1)

    @property
    def checkpoint_every(self) -> float:
        return self.eval_every / 2

    def args(self, experiment: str) -> list[str]:
        return [f"experiment={experiment}", "task=toy_mt", "model.width=32", "model.depth=1",
                f"budget.train_seconds={self.budget}", f"budget.eval_every_seconds={self.eval_every}",
                f"budget.checkpoint_every_seconds={self.checkpoint_every}",
                "budget.log_every_seconds=0.001",  # shorter than any update: one train record per update
                "task.eval.bleu_sentences=10", "task.eval.test_sentences=10", "task.eval.beam=1",
                "task.eval.test_beam=1", "logger=none", "num_workers=0"]


@dataclass
class Trial:
    number: int
    plan: list[tuple[str, int]]
    kills: list[str] = field(default_factory=list)  # what happened to each planned kill
    attempts: int = 0
    problems: list[str] = field(default_factory=list)
    summary: str = ""


def environment(root: Path) -> dict:
    env = dict(os.environ, TLC_DATA_ROOT=str(root / "data"), TLC_RUNS_ROOT=str(root / "runs"))
    env.pop(faults.ENV, None)
    return env


def attempt(args: list[str], env: dict, kill_at: tuple[str, int] | None, rng: random.Random) -> tuple[str, int, str]:
    """Run `tlc-train args` once; with `kill_at`, SIGKILL it when it pauses there.

    Returns (what happened: "killed", "not reached" or "ran", exit status, the end of its stderr).
    """
    if kill_at:
        env = dict(env, **{faults.ENV: f"{kill_at[0]}:{kill_at[1]}"})
    proc = subprocess.Popen([TLC_TRAIN, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    tail: deque[str] = deque(maxlen=30)
    paused = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:
            tail.append(line)
            if line.startswith(faults.MARKER):
                paused.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    deadline = time.monotonic() + ATTEMPT_TIMEOUT
    while proc.poll() is None and not paused.is_set() and time.monotonic() < deadline:
        paused.wait(0.1)
    outcome = "ran"
    if paused.is_set() or proc.poll() is None:
        time.sleep(rng.uniform(0.0, 0.3))  # the run sleeps at the fault point: any moment in it will do
        os.killpg(proc.pid, signal.SIGKILL)
        outcome = "killed" if paused.is_set() else "timed out"
    elif kill_at:
        outcome = "not reached"
    status = proc.wait()
    reader.join(timeout=10)
    return outcome, status, "".join(tail)


def double_launch(args: list[str], env: dict) -> tuple[str, bool, list[str]]:
    """Start `tlc-train args` twice at once; (what happened, whether the run completed, problems)."""
    procs = [subprocess.Popen([TLC_TRAIN, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True) for _ in range(2)]
    tails = [proc.communicate(timeout=ATTEMPT_TIMEOUT)[1] for proc in procs]
    statuses = sorted(proc.returncode for proc in procs)
    refused = [tail for proc, tail in zip(procs, tails) if proc.returncode == 2]
    if statuses == [0, 2] and "is in use by pid" in refused[0]:
        return "one trained, one refused", True, []
    if statuses == [0, 0]:  # the second started after the first had finished: nothing ran twice either
        return "one trained, one found it finished", True, []
    return f"exit statuses {statuses}", 0 in statuses, [f"double launch: exit statuses {statuses}: "
                                                       + "; ".join(last_line(tail) for tail in tails)]


def default_plan(number: int, rng: random.Random) -> list[tuple[str, int | None]]:
    points = [faults.POINTS[number % len(faults.POINTS)]]
    later = faults.POINTS[faults.POINTS.index(points[0]):]
    if rng.random() < 0.5:
        points.append(rng.choice(later))
    if number % 4 == 3:
        points.append(DOUBLE)
    return [(point, None) for point in points]


def run_trial(number: int, toy: Toy, plan: list[tuple[str, int | None]], root: Path, rng: random.Random,
              slack: float, max_resumes: int) -> Trial:
    trial = Trial(number, [(point, count or rng.randint(1, MOST[point])) for point, count in plan])
    args, env = toy.args(f"faults_{number:03d}"), environment(root)
    completed = False
    for kill_at in trial.plan:
        if completed:
            trial.kills.append(f"{kill_at[0]}:{kill_at[1]} skipped")
            continue
        if kill_at[0] == DOUBLE:
            outcome, completed, problems = double_launch(args, env)
            trial.attempts += 2
            trial.kills.append(f"{DOUBLE}: {outcome}")
            trial.problems += problems
            continue
        outcome, status, tail = attempt(args, env, kill_at, rng)
        trial.attempts += 1
        trial.kills.append(f"{kill_at[0]}:{kill_at[1]} {outcome}")
        if outcome in ("not reached", "ran"):
            completed = status == 0
            if status != 0:
                trial.problems.append(f"attempt {trial.attempts} failed ({status}): {last_line(tail)}")
        if outcome == "timed out":
            trial.problems.append(f"attempt {trial.attempts} neither paused nor ended in {ATTEMPT_TIMEOUT:.0f} s")
    for _ in range(max_resumes if not completed else 0):
        _, status, tail = attempt(args, env, None, rng)
        trial.attempts += 1
        if status == 0:
            completed = True
            break
        trial.problems.append(f"resume (attempt {trial.attempts}) failed ({status}): {last_line(tail)}")
    if not completed:
        trial.problems.append(f"the run did not complete in {trial.attempts} attempts")
        return trial
    run_dir = next((root / "runs" / f"faults_{number:03d}").glob("*/.hydra")).parent
    problems, trial.summary = check_run(run_dir, toy, slack)
    trial.problems += problems
    return trial


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def strict_records(path: Path) -> tuple[list[dict], list[str]]:
    """Every line of a finished metrics log, which must all be whole JSON records."""
    data = path.read_text() if path.exists() else ""
    problems = [] if data.endswith("\n") else [f"{METRICS_FILE} does not end with a whole line"]
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            problems.append(f"{METRICS_FILE}:{number} is not a JSON record")
    return records, problems


def expected_validations(train: list[dict], toy: Toy) -> list[int]:
    """The updates the loop validates at, replayed over the log's own clock (train_large.loop)."""
    due, updates = toy.eval_every, []
    for record in train:
        seconds = record["train_seconds"]
        if seconds >= toy.budget:
            break  # the final validation follows the loop
        if seconds >= due:
            updates.append(record["updates"])
            due = next_mark(seconds, toy.eval_every)
    return updates


def check_run(run_dir: Path, toy: Toy, slack: float) -> tuple[list[str], str]:
    """(everything lost or inconsistent in a finished toy run, a one-line summary)."""
    problems: list[str] = []
    try:
        result = read_result(run_dir)
    except ValueError as err:
        return [str(err)], ""
    if result is None:
        return ["result.json is missing or not complete"], ""
    records, problems = strict_records(run_dir / METRICS_FILE)
    by_kind: dict[str, list[dict]] = {"train": [], "valid": [], "test": []}
    for record in records:
        by_kind.setdefault(record["kind"], []).append(record)
    train, valid, test = by_kind["train"], by_kind["valid"], by_kind["test"]
    updates = [r["updates"] for r in train]
    if updates != list(range(1, len(updates) + 1)):
        problems.append(f"train records are not one per update 1..{len(updates)}: {compress_list(updates)}")
    for key in ("train_seconds", "wall_seconds"):
        values = [r[key] for r in records]
        if any(later < earlier for earlier, later in zip(values, values[1:])):
            problems.append(f"{key} goes back in {METRICS_FILE}")
    last = updates[-1] if updates else 0
    wanted = expected_validations(train, toy) + [last]
    got = [r["updates"] for r in valid]
    if got != wanted:
        problems.append(f"validations at updates {got}, the schedule asks for {wanted}")
    if [r["updates"] for r in test] != [last]:
        problems.append(f"test records at updates {[r['updates'] for r in test]}, expected [{last}]")
    final_seconds = result["train_seconds"]
    before_last = [r["train_seconds"] for r in train[:-1]]
    if final_seconds < toy.budget or (before_last and before_last[-1] >= toy.budget):
        problems.append(f"training did not stop at the first update past {toy.budget} s ({final_seconds:.2f} s)")
    if final_seconds > toy.budget + slack:
        problems.append(f"final train_seconds {final_seconds:.2f} is more than {slack} s past the budget")
    metric = result["metric"]
    if result["updates"] != last or (valid and result["final"]["valid"][metric] != valid[-1][metric]):
        problems.append("result.json disagrees with the last records of metrics.jsonl")
    problems += check_checkpoints(run_dir, result, valid, last)
    left = [p.name for folder in (run_dir, run_dir / CHECKPOINT_DIR) for p in folder.glob(f".*{TEMPORARY_SUFFIX}")]
    if left:
        problems.append(f"temporary files left behind: {', '.join(sorted(left))}")
    summary = f"{last} updates, {len(valid)} validations, {final_seconds:.2f} s"
    return problems, summary


def check_checkpoints(run_dir: Path, result: dict, valid: list[dict], last: int) -> list[str]:
    problems = []
    try:
        state = load_checkpoint(checkpoint_path(run_dir, LAST))
        if state["progress"]["updates"] != last or state["clock"]["train_seconds"] != result["train_seconds"]:
            problems.append(f"{LAST} is not the final update and clock")
        best = load_checkpoint(checkpoint_path(run_dir, BEST))
    except (ValueError, OSError) as err:
        return problems + [f"a checkpoint does not load: {err}"]
    best_record = None
    for record in valid:
        if is_better(result["kind"], record[result["metric"]], best_record and best_record[result["metric"]]):
            best_record = record
    if best_record and (best.get("updates") != best_record["updates"]
                        or best["metrics"][result["metric"]] != best_record[result["metric"]]):
        problems.append(f"{BEST} holds update {best.get('updates')} ({best['metrics'][result['metric']]}), the best "
                        f"validation record is update {best_record['updates']} ({best_record[result['metric']]})")
    return problems


def compress_list(values: list[int]) -> str:
    return str(values) if len(values) <= 12 else f"{values[:6]} ... {values[-6:]}"


def parse_plan(text: str | None) -> list[tuple[str, int | None]] | None:
    """`update,checkpoint:2` -> [("update", None), ("checkpoint", 2)] (None: n drawn at random)."""
    if not text:
        return None
    plan = []
    for item in (item.strip() for item in text.split(",") if item.strip()):
        if item == DOUBLE:
            plan.append((DOUBLE, None))
            continue
        try:
            plan.append(faults.parse(item) if ":" in item else faults.parse(f"{item}:1")[:1] + (None,))
        except ValueError:
            sys.stderr.write(f"fault_inject: error: --plan item {item!r} is not {DOUBLE}, <point> or <point>:<n> "
                             f"with point one of {', '.join(faults.POINTS)} and n >= 1\n")
            raise SystemExit(2) from None
    return plan


def print_table(trials: list[Trial]) -> None:
    kills = [", ".join(trial.kills) for trial in trials]
    width = max(len("kill points"), *map(len, kills))
    print(f"{'trial':>5}  {'kill points':<{width}}  {'attempts':>8}  {'run':<34} outcome")
    for trial, points in zip(trials, kills):
        outcome = "ok" if not trial.problems else "LOSS: " + "; ".join(trial.problems)
        print(f"{trial.number:>5}  {points:<{width}}  {trial.attempts:>8}  {trial.summary:<34} {outcome}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="draws the kill points and the moments")
    parser.add_argument("--plan", help="the same steps in every trial, in order: <point> (n drawn at random), "
                        "<point>:<n> (its n-th arrival in that attempt) or double (two launches at once), "
                        "e.g. update,checkpoint:2,double")
    parser.add_argument("--root", type=Path, help="data and runs go here (default: a fresh temporary folder)")
    parser.add_argument("--budget", type=float, default=8.0, help="training seconds of each toy run")
    parser.add_argument("--validations", type=int, default=3, help="validations before the final one")
    parser.add_argument("--slack", type=float, default=5.0, help="seconds past the budget the final clock may be")
    parser.add_argument("--max-resumes", type=int, default=3, help="clean re-runs allowed after the last kill")
    opts = parser.parse_args(argv)
    if opts.trials < 1 or opts.budget <= 0 or opts.validations < 0:
        parser.error("--trials must be >= 1, --budget > 0 and --validations >= 0")
    plan = parse_plan(opts.plan)
    root = opts.root or Path(tempfile.mkdtemp(prefix="tlc-faults-"))
    rng = random.Random(opts.seed)
    toy = Toy(opts.budget, opts.validations)
    print(f"fault injection: {opts.trials} trials, seed {opts.seed}, runs under {root}", flush=True)
    logging.basicConfig(level=logging.WARNING)  # the data preparation's progress lines are not the table's
    from train_large.cli import compose_train
    from train_large.data.datasets import ensure_dataset

    ensure_dataset(compose_train([f"paths.data_root={root / 'data'}"]).task)  # once, before any kill
    trials = []
    started = time.monotonic()
    for number in range(opts.trials):
        trial = run_trial(number, toy, plan or default_plan(number, rng), root, rng, opts.slack, opts.max_resumes)
        trials.append(trial)
        print(f"trial {number}: {', '.join(trial.kills)} -> {'ok' if not trial.problems else 'LOSS'} "
              f"({trial.attempts} attempts, {time.monotonic() - started:.0f} s so far)", flush=True)
    print()
    print_table(trials)
    lost = [trial for trial in trials if trial.problems]
    kills = sum(kill.endswith("killed") for trial in trials for kill in trial.kills)
    print(f"\n{len(trials)} trials, {kills} kills, {len(lost)} with a loss "
          f"({time.monotonic() - started:.0f} s)")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())

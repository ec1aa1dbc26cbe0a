"""scripts/fault_inject.py's checks catch each kind of loss: a run directory that is whole passes,
and each damage a kill could do (a lost or repeated record, a clock that goes back, a stale
best.pt, a torn line, a left-over temporary file) is reported."""
from __future__ import annotations

import importlib.util
import json
import random
import sys

import pytest

from tests.conftest import REPO
from train_large.checkpoint import save_checkpoint
from train_large.rundir import write_result

spec = importlib.util.spec_from_file_location("fault_inject", REPO / "scripts" / "fault_inject.py")
fault_inject = importlib.util.module_from_spec(spec)
sys.modules["fault_inject"] = fault_inject
spec.loader.exec_module(fault_inject)

TOY = fault_inject.Toy(budget=4.0)  # a validation due every 1.0 s
BLEU = {4: 1.0, 7: 3.0, 10: 2.0, 14: 2.5}  # by update: the best is at update 7


def records() -> list[dict]:
    out = []
    for update in range(1, 15):  # 0.3 s per update: 4.2 s is the first past the budget
        seconds = round(0.3 * update, 4)
        out.append({"kind": "train", "train_seconds": seconds, "wall_seconds": 2 * seconds, "updates": update})
        if update in BLEU:
            out.append({**out[-1], "kind": "valid", "bleu": BLEU[update]})
    out.append({**out[-1], "kind": "test", "bleu": 2.4})
    return out


def write_run(run_dir, lines: list[dict], *, best_update: int = 7, final_seconds: float = 4.2) -> None:
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    write_result(run_dir, {"train_seconds": final_seconds, "updates": 14, "metric": "bleu", "kind": "translation",
                           "final": {"valid": {"bleu": BLEU[14]}}})
    save_checkpoint(run_dir / "checkpoints" / "last.pt",
                    {"progress": {"updates": 14}, "clock": {"train_seconds": final_seconds}, "engine": {}})
    save_checkpoint(run_dir / "checkpoints" / "best.pt",
                    {"updates": best_update, "metrics": {"bleu": BLEU[best_update]}, "engine": {}})


def test_the_schedule_replay_finds_the_validations_the_loop_makes():
    train = [r for r in records() if r["kind"] == "train"]
    assert fault_inject.expected_validations(train, TOY) == [4, 7, 10]


def test_a_whole_run_passes(tmp_path):
    write_run(tmp_path, records())
    problems, summary = fault_inject.check_run(tmp_path, TOY, slack=5.0)
    assert problems == [] and summary.startswith("14 updates, 4 validations")


def repeat_a_validation(lines):
    at = next(i for i, r in enumerate(lines) if r["kind"] == "valid")
    return lines[:at + 1] + [lines[at]] + lines[at + 1:]


def drop(kind, nth=0):
    def damage(lines):
        at = [i for i, r in enumerate(lines) if r["kind"] == kind][nth]
        return lines[:at] + lines[at + 1:]
    return damage


def clock_back(lines):
    lines[5] = {**lines[5], "train_seconds": 0.1}
    return lines


DAMAGE = {
    "a validation twice": (repeat_a_validation, "validations at updates [4, 4, 7, 10, 14]"),
    "a validation lost": (drop("valid", 1), "validations at updates [4, 10, 14]"),
    "a train record lost": (drop("train", 3), "train records are not one per update"),
    "the test record lost": (drop("test"), "test records at updates []"),
    "the clock goes back": (clock_back, "train_seconds goes back"),
}


@pytest.mark.parametrize("name", DAMAGE)
def test_each_lost_or_repeated_record_is_reported(tmp_path, name):
    damage, expected = DAMAGE[name]
    write_run(tmp_path, damage(records()))
    problems, _ = fault_inject.check_run(tmp_path, TOY, slack=5.0)
    assert any(expected in problem for problem in problems), problems


def test_a_torn_line_a_stale_best_and_a_left_over_temporary_are_reported(tmp_path):
    write_run(tmp_path, records(), best_update=10)
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"kind": "tr')
    (tmp_path / "checkpoints" / ".last.pt.x1.tmp").write_bytes(b"half")
    problems, _ = fault_inject.check_run(tmp_path, TOY, slack=5.0)
    assert any("does not end with a whole line" in p for p in problems)
    assert any("best.pt holds update 10" in p and "update 7" in p for p in problems)
    assert any("temporary files left behind: .last.pt.x1.tmp" in p for p in problems)


def test_a_clock_far_past_the_budget_is_reported(tmp_path):
    write_run(tmp_path, records(), final_seconds=12.0)
    problems, _ = fault_inject.check_run(tmp_path, TOY, slack=5.0)
    assert any("more than 5.0 s past the budget" in p for p in problems)


def test_a_plan_names_fault_points_and_arrivals():
    assert fault_inject.parse_plan("update,checkpoint:2") == [("update", None), ("checkpoint", 2)]
    assert fault_inject.parse_plan("result,double") == [("result", None), ("double", None)]
    assert [point for point, _ in fault_inject.default_plan(3, random.Random(0))][-1] == "double"
    with pytest.raises(SystemExit):
        fault_inject.parse_plan("backward:1")

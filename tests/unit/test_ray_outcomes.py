"""The Ray launcher's summary lists a job that found its run locked by another process as running
elsewhere, with the lock's holder, from the line the job wrote to <sweep dir>/outcomes.jsonl; it is
a completed JobReturn (value None) to Hydra, so the exit status stays 0. No Ray started."""
from __future__ import annotations

import json
import time
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.tlc_launchers.outcomes import (
    FAILED, FINISHED, OUTCOMES_FILE, RUNNING_ELSEWHERE, SKIPPED, outcome_of, running_elsewhere, summary_lines,
)

HOLDER = "locked by pid 4242 on node-7 since 2026-12-03 09:00"


def append(sweep_dir: Path, run: str, status: str, error: str | None, at: float) -> None:
    with (sweep_dir / OUTCOMES_FILE).open("a", encoding="utf-8") as lines:
        lines.write(json.dumps({"run": run, "status": status, "error": error, "time": at}) + "\n")


def completed(run_dir: Path) -> JobReturn:
    return JobReturn(overrides=[], working_dir=str(run_dir), status=JobStatus.COMPLETED, _return_value=None)


def test_job_locked_elsewhere_is_summarised_as_running_elsewhere_with_its_holder(tmp_path):
    since = time.time()
    append(tmp_path, "width=64", RUNNING_ELSEWHERE, "locked by an older launch", since - 100)  # not this launch
    append(tmp_path, "width=32", RUNNING_ELSEWHERE, HOLDER, since + 1)
    append(tmp_path, "width=48", FINISHED, None, since + 2)
    with (tmp_path / OUTCOMES_FILE).open("a") as torn:
        torn.write('{"run": "width=1')  # a kill mid-line
    holders = running_elsewhere(tmp_path, since)
    assert holders == {"width=32": HOLDER}

    runs = {name: tmp_path / name for name in ("width=32", "width=48", "width=64", "width=80")}
    outcomes = [outcome_of(0, "model.width=32", runs["width=32"], False, completed(runs["width=32"]),
                           holder=holders.get("width=32")),
                outcome_of(1, "model.width=48", runs["width=48"], False, completed(runs["width=48"]),
                           holder=holders.get("width=48")),
                outcome_of(2, "model.width=64", runs["width=64"], True, completed(runs["width=64"]),
                           holder=holders.get("width=64")),
                outcome_of(3, "model.width=80", runs["width=80"], False, None, RuntimeError("worker died"))]
    assert [o.status for o in outcomes] == [RUNNING_ELSEWHERE, FINISHED, SKIPPED, FAILED]

    lines = summary_lines(outcomes)
    assert lines[0] == "4 jobs: 1 finished, 1 failed, 1 skipped, 1 running elsewhere"
    assert f"  running elsewhere #0 width=32 -- {HOLDER}" in lines
    assert "  finished #1 width=48" in lines
    assert "  failed   #3 width=80 -- RuntimeError: worker died" in lines


def test_failed_return_stays_failed_whatever_the_file_says(tmp_path):
    failed = JobReturn(overrides=[], working_dir=str(tmp_path), status=JobStatus.FAILED,
                       _return_value=ValueError("bad data"))
    outcome = outcome_of(0, "", tmp_path / "w", False, failed, holder=HOLDER)
    assert (outcome.status, outcome.error) == (FAILED, "ValueError: bad data")


def test_no_outcomes_file_means_nobody_ran_elsewhere(tmp_path):
    assert running_elsewhere(tmp_path, 0.0) == {}

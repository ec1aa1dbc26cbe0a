"""`scripts/bench.py --quick` runs every CPU section end to end and reports each: the table on
stdout and the JSON file with the keys the README's Performance section quotes. Timings are
never checked here (the machine's load decides them); what tlc-train imports is."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.e2e

SECTION_KEYS = {
    "overhead": {"median_ratio", "median_loop_share", "goal", "pairs"},
    "startup": {"tlc_train_seconds", "fairseq_train_seconds", "first_update_seconds", "imports"},
    "fan_out": {"ratio", "jobs_only_ratio", "makespan_seconds", "job_seconds", "goal"},
    "eval_share": {"toy", "paper", "goal"},
    "device": {"peak", "models", "clock_error", "clock_goal", "clock_check", "clock_self_test"},
    "report": {"runs", "median_seconds", "goal_seconds"},
}


def test_quick_bench_prints_its_table_and_writes_every_section(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(REPO / "scripts" / "bench.py"), "--quick", "--work", str(tmp_path / "work"),
               "--json", str(out)]
    proc = subprocess.run(command, env=subprocess_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    report = json.loads(out.read_text())
    sections = report["sections"]
    assert set(sections) == {"gpu", *SECTION_KEYS}
    for name, keys in SECTION_KEYS.items():
        assert keys <= sections[name].keys(), (name, sorted(sections[name]))
    assert "skipped" in sections["gpu"]  # no --gpu given
    pair = sections["overhead"]["pairs"][0]
    assert pair["tlc"]["updates"] == pair["fairseq"]["updates"] > 1
    assert sections["startup"]["imports"]["imported_heavy"] == []  # no wandb, ray, submitit, matplotlib
    assert {r["preset"] for r in sections["eval_share"]["paper"]} == {"wmt14_en_fr", "roberta_mlm", "mnli", "sst2"}
    assert sections["eval_share"]["toy"]["toy_mt"]["records"]["valid"] >= 1
    assert len(sections["fan_out"]["job_seconds"]) == sections["fan_out"]["jobs"]
    # the clock check timed the loop's updates, and its self-test failed the broken (process-time) clock
    assert sections["device"]["clock_check"]["updates"] >= 1 and sections["device"]["clock_self_test"]["caught"]

    table = proc.stdout[proc.stdout.index("section"):]
    for name in sections:
        assert any(line.startswith(name) for line in table.splitlines()), name
    assert f"wrote {out}" in proc.stdout

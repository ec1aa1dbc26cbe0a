"""`python -m scripts.bench all --quick` runs every CPU section end to end and reports each: the table on
stdout and the JSON file with the keys scripts/render_performance.py reads for the README's
Performance table, and the machine it ran on. Timings are never checked here (the machine's load
decides them); what tlc-train imports is."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.e2e

SECTION_KEYS = {
    "overhead": {"median_ratio", "ratio", "median_loop_share", "loop_share", "goal", "pairs"},
    "startup": {"tlc_train_seconds", "fairseq_train_seconds", "first_update_seconds", "tlc_train", "fairseq_train",
                "first_update", "imports"},
    "fan_out": {"ratio", "interval", "jobs_only_ratio", "sweeps", "first_start_seconds", "job_gap_seconds",
                "after_last_seconds", "goal", "ray_alone"},
    "eval_share": {"toy", "paper", "goal"},
    "device": {"peak", "models", "clock_error", "clock_goal", "clock_check", "clock_error_interval", "clock_errors",
               "clock_self_test", "clock_self_test_repeats"},
    "report": {"runs", "median_seconds", "interval", "goal_seconds"},
    "prepare": {"workers", "corpus", "translation", "memory", "mlm", "stage_parts", "speedup", "peak_growth",
                "projection"},
}
MACHINE_KEYS = {"cpu_model", "cpu_cores", "gpu", "torch", "cuda", "fairseq", "python", "date", "load_average",
                "load_average_end"}


def test_quick_bench_prints_its_table_and_writes_every_section(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "scripts.bench", "all", "--quick", "--work", str(tmp_path / "work"),
               "--json", str(out)]
    proc = subprocess.run(command, env={**subprocess_env(tmp_path), "PYTHONPATH": str(REPO)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    report = json.loads(out.read_text())
    assert MACHINE_KEYS <= report["machine"].keys(), sorted(report["machine"])
    assert report["machine"]["cpu_model"] and report["machine"]["fairseq"]
    sections = report["sections"]
    assert set(sections) == {"gpu", *SECTION_KEYS}
    for name, keys in SECTION_KEYS.items():
        assert keys <= sections[name].keys(), (name, sorted(sections[name]))
    assert "skipped" in sections["gpu"]  # no --gpu given
    pair = sections["overhead"]["pairs"][0]
    assert pair["tlc"]["updates"] == pair["fairseq"]["updates"] > 1
    assert sections["startup"]["imports"]["imported_heavy"] == []  # no wandb, ray, submitit, matplotlib
    imported = sections["startup"]["imports"]["package_seconds"]
    assert "sklearn" not in imported and "scipy.stats" not in imported  # fairseq's import gets stand-ins
    assert {r["preset"] for r in sections["eval_share"]["paper"]} == {"wmt14_en_fr", "roberta_mlm", "mnli", "sst2"}
    assert sections["eval_share"]["toy"]["toy_mt"]["records"]["valid"] >= 1
    sweep = sections["fan_out"]["sweeps"][0]
    assert len(sweep["job_seconds"]) == sections["fan_out"]["jobs"] and sweep["makespan_seconds"] > 0
    ray_alone = sections["fan_out"]["ray_alone"]["sweeps"][0]  # the same shape through bare Ray
    assert len(ray_alone["job_seconds"]) == sections["fan_out"]["jobs"] and ray_alone["ratio"] > 1
    # the clock check timed the loop's updates, and its self-test failed the broken (process-time) clock
    assert sections["device"]["clock_check"]["updates"] >= 1 and sections["device"]["clock_self_test"]["caught"]
    repeats = sections["device"]["clock_self_test_repeats"]
    assert repeats["caught"] == repeats["runs"] == 2 and repeats["faulty_error"]["high"] < -0.01
    prepared = sections["prepare"]
    assert [run["workers"] for run in prepared["translation"]] == [1, prepared["workers"]]
    assert [run["workers"] for run in prepared["mlm"]] == [1, prepared["workers"]]
    assert {"check", "normalise", "sentencepiece", "encode", "binarize"} == prepared["mlm"][1]["stages"].keys()
    assert prepared["projection"]["wmt14_en_fr"]["lines"] == 40_800_000
    # one pair, one report command: a mean without an interval, which can never read "met"
    assert sections["overhead"]["ratio"]["n"] == 1 and sections["overhead"]["ratio"]["low"] is None

    table = proc.stdout[proc.stdout.index("section"):]
    for name in sections:
        assert any(line.startswith(name) for line in table.splitlines()), name
    assert f"wrote {out}" in proc.stdout

"""tlc-report's aggregation and tables: synthetic run directories in the real formats, nested at
different depths, with an unfinished run, a run whose sweep recorded a failure and a broken run."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from hydra_plugins.tlc_launchers.outcomes import record_outcome
from sweeps.report.collect import BROKEN, COMPLETE, UNFINISHED, collect, find_run_dirs
from sweeps.report.table import compression_table, problems_table, training_table, write_csv
from tests.report_runs import (TIMES, compressions, rising, width_sweep, write_broken_run, write_unfinished_run)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    runs = tmp_path / "results"
    small, _, large = width_sweep(runs / "translation", (20.0, 30.0, 40.0))  # nested one level deeper
    compressions(runs, small, large)
    write_unfinished_run(runs, "mt_width_more", "width=256", rising(45.0, 10)[:2], width=256)
    failed = write_unfinished_run(runs, "mt_width_more", "width=512", [], width=512)
    record_outcome(failed.parent, failed.name, "failed", "CUDA out of memory")
    write_broken_run(runs, "mt_width_more", "width=1024", width=1024)
    (runs / "translation" / "mt_width" / "width=32" / "wandb" / "offline-run-1").mkdir(parents=True)
    (runs / "empty_folder").mkdir()
    return runs


def by_name(runs):
    return {run.name: run for run in runs}


def test_every_run_directory_is_found_at_any_depth_and_none_inside_a_run(root: Path) -> None:
    found = find_run_dirs([root])
    assert len(found) == 3 + 7 + 3  # training, compression, unfinished/failed/broken
    assert {p.name for p in found} >= {"width=32", "width=64", "width=128", "width=256", "width=512", "width=1024"}
    assert not any("wandb" in p.parts or p.name == "empty_folder" for p in found)
    assert find_run_dirs([root / "translation" / "mt_width" / "width=64"]) == [
        (root / "translation" / "mt_width" / "width=64").resolve()]


def test_runs_are_read_with_their_status_and_never_dropped(root: Path) -> None:
    runs = by_name(collect([root]))
    assert {name: run.status for name, run in runs.items() if name.startswith("width=")} == {
        "width=32": COMPLETE, "width=64": COMPLETE, "width=128": COMPLETE,
        "width=256": UNFINISHED, "width=512": UNFINISHED, "width=1024": BROKEN}
    assert runs["width=256"].problem == "no result.json yet (2 validations so far)"
    assert runs["width=512"].problem == "no result.json yet; last attempt failed: CUDA out of memory"
    assert runs["width=1024"].problem.startswith("ValueError: result.json is not valid JSON")
    assert runs["width=1024"].experiment == "mt_width_more" and runs["width=1024"].width == 1024  # from .hydra

    w64 = runs["width=64"]
    assert (w64.job, w64.experiment, w64.task, w64.metric, w64.width, w64.depth) == (
        "train", "mt_width", "toy_mt", "bleu", 64, 2)
    assert (w64.batch, w64.batch_unit, w64.params, w64.budget_seconds) == (2048, "tokens", 162_304, 60.0)
    assert [p.train_seconds for p in w64.curve] == TIMES
    assert [p.value for p in w64.curve] == pytest.approx(rising(30.0, 10))
    assert w64.best_valid == pytest.approx(rising(30.0, 10)[-1]) and w64.final == {"valid": w64.best_valid}

    (q8,) = [r for r in runs.values() if r.name.startswith("compression=quantize,bits=8,") and "width=128" in r.name]
    assert q8.job == "compress" and q8.width == 128  # the source's model
    c = q8.compression
    assert (c.method, c.bits, c.bytes, c.fp32_bytes, c.source_name, c.scores) == (
        "quantize", 8, 521_216, 2_084_864, "width=128", {"valid": 39.5})
    assert c.ratio == pytest.approx(4.0) and not c.is_baseline and c.source_budget_seconds == 60.0
    assert c.recipe == "-"  # post-training quantization, no fine-tuning
    (pruned,) = [r for r in runs.values() if r.name.startswith("compression=prune_quantize")]
    assert pruned.compression.recipe == "one-shot"


def test_csv_holds_one_row_per_run_with_its_figures(root: Path, tmp_path: Path) -> None:
    runs = collect([root])
    with write_csv(runs, tmp_path / "runs.csv").open() as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert len(rows) == len(runs) == 13
    assert (rows["width=128"]["status"], rows["width=128"]["params"], rows["width=128"]["metric"]) == (
        "complete", "521216", "bleu")
    assert float(rows["width=128"]["final_valid"]) == pytest.approx(rising(40.0, 10)[-1])
    assert rows["width=1024"]["status"] == "broken" and "not valid JSON" in rows["width=1024"]["problem"]
    assert rows["width=256"]["final_valid"] == ""
    pruned = next(row for name, row in rows.items() if name.startswith("compression=prune_quantize"))
    assert (pruned["method"], pruned["bits"], pruned["sparsity"], pruned["source"], pruned["final_valid"]) == (
        "prune_quantize", "4", "0.9", "width=128", "30.0")


def test_csv_lists_where_each_run_saved_its_outputs(root: Path, tmp_path: Path) -> None:
    result_path = root / "translation" / "mt_width" / "width=128" / "result.json"
    result = json.loads(result_path.read_text())
    result["outputs"] = {"test": {"file": "/elsewhere/width=128/outputs/test.hyp.fr", "sha256": "0" * 64,
                                  "lines": 3003}}
    result_path.write_text(json.dumps(result))
    with write_csv(collect([root]), tmp_path / "runs.csv").open() as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert rows["width=128"]["outputs"] == "outputs/test.hyp.fr"  # relative to run_dir: run dirs move
    assert rows["width=32"]["outputs"] == ""


def test_markdown_tables_list_runs_smallest_first_and_the_problems(root: Path) -> None:
    runs = collect([root])
    training = training_table(runs).splitlines()
    assert [line.split(" | ")[2] for line in training[2:]] == ["width=32", "width=64", "width=128"]
    assert "| mt_width | toy_mt | width=64 | 64 | 2 | 2,048 tok | 162,304 | 60 | 3,750 | 7.3e+12 |" in training[3]
    assert f"| bleu | {rising(30.0, 10)[-1]:.4g} | {rising(30.0, 10)[-1]:.4g} | - |" in training[3]

    compressed = compression_table(runs).splitlines()[2:]
    assert [int(line.split(" | ")[7].replace(",", "")) for line in compressed] == sorted(
        [226_304, 56_576, 28_288, 2_084_864, 521_216, 260_608, 113_152])

    problems = problems_table(runs)
    assert "| unfinished | mt_width_more | width=256 | no result.json yet (2 validations so far) |" in problems
    assert "| broken | mt_width_more | width=1024 | ValueError: result.json is not valid JSON" in problems
    assert "width=64" not in problems


def test_a_compression_whose_source_moved_is_still_read(tmp_path: Path) -> None:
    small, _, large = width_sweep(tmp_path / "elsewhere", (20.0, 30.0, 40.0))
    compressions(tmp_path / "runs", small, large)
    shutil.rmtree(tmp_path / "elsewhere")
    runs = collect([tmp_path / "runs"])
    assert len(runs) == 7 and {r.status for r in runs} == {COMPLETE}
    q8 = next(r for r in runs if "bits=8" in r.name and "width=128" in r.name)
    assert (q8.task, q8.metric, q8.width, q8.compression.source_params) == ("toy_mt", "bleu", None, 521_216)
    assert q8.compression.source_budget_seconds is None  # unknown: advice for a training budget leaves it out


def test_glue_submission_files_keep_their_folder_under_outputs() -> None:
    from sweeps.report.collect import saved_outputs

    outputs = {"valid": {"file": "/runs/outputs/x/valid.pred"},
               "test_matched": {"file": "/elsewhere/run/outputs/glue/MNLI-m.tsv"}}
    assert saved_outputs(outputs) == ["outputs/x/valid.pred", "outputs/glue/MNLI-m.tsv"]

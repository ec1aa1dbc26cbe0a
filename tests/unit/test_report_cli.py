"""`tlc-report` end to end on synthetic runs: the report folder, bad arguments in one line (exit 2),
the W&B workspace spec, and that it never loads torch or fairseq."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from sweeps.report.cli import main
from sweeps.report.table import REPRODUCE_HINT
from tests.report_runs import compressions, width_sweep, write_broken_run, write_unfinished_run

TLC_REPORT = str(Path(sys.executable).parent / "tlc-report")


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    small, _, large = width_sweep(root, (20.0, 30.0, 40.0))
    compressions(root, small, large)
    write_unfinished_run(root, "mt_width", "width=256", [1.0, 2.0], width=256)
    write_broken_run(root, "mt_width", "width=512", width=512)
    return root


def run_main(*argv: str) -> int:
    with pytest.raises(SystemExit) as done:
        main([*argv])
    return done.value.code


def test_report_folder_holds_tables_figures_claims_and_advice(runs_root: Path, capsys) -> None:
    assert run_main(str(runs_root), "--claims", "--advise", "train_seconds=60", "bytes=2e5", "--no-figures") == 0
    out = runs_root / "report"  # beside the runs by default; not read back as a run on the next report
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "runs.csv", "runs.md"]
    report = (out / "report.md").read_text()
    assert "From 12 run directories under" in report and "10 complete, 1 unfinished, 1 broken" in report
    assert "| unfinished | mt_width | width=256 | no result.json yet (2 validations so far) |" in report
    assert "### 1. At equal training time, larger models reach a better metric: **supported**" in report
    assert "### 2. For translation, width helps more than depth: **not enough data**" in report
    claim2 = report.split("### 2. ")[1].split("### 3. ")[0]  # what it lacks, and the command that makes it
    assert f"- {REPRODUCE_HINT}\n" in claim2 and REPRODUCE_HINT not in report.split("### 2. ")[0]
    assert "### 4. Large models are more robust to compression: **supported**" in report
    at_60 = 1 - math.exp(-6)  # the constructed curves at 60 s
    assert f"- **best**: `mt_width/width=128`, bleu {40 * at_60:.4g} (n=1)\n" in report
    assert (f"- runner-up: `mt_width/width=64`, bleu {30 * at_60:.4g} (n=1); margin +{10 * at_60:.3g} BLEU (1 seed, "
            "no interval)\n") in report
    assert ("- **best**: `compress/compression=prune_quantize,bits=4,sparsity=0.9,source=width=128`, valid bleu 30 "
            "(n=1)\n") in report
    assert ("- runner-up: `compress/compression=quantize,bits=8,sparsity=0.0,source=width=32`, valid bleu 19.5 "
            "(n=1); margin +10.5 BLEU (1 seed, no interval)\n") in report
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.md'}" in printed and "claim 3 (Increase model size, not batch size): " \
        "not enough data" in printed

    assert run_main(str(runs_root), "--no-figures", "--out", str(runs_root / "again")) == 0  # not read as a run
    assert "From 12 run directories" in (runs_root / "again" / "report.md").read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["{root}", "--advise", "bytes=50MB"],
     "tlc-report: error: --advise bytes='50MB': not a number; give a positive number, e.g. bytes=3600 or bytes=5e7"),
    (["{root}/nowhere"], "tlc-report: error: {root}/nowhere is not a folder; give sweep or run folders (e.g. "
                         "runs/mt_width)"),
    (["{root}", "--wandb-workspace", "justaproject"],
     "tlc-report: error: --wandb-workspace 'justaproject': expected ENTITY/PROJECT, e.g. "
     "my-team/train-large-then-compress"),
    (["{root}", "--bogus"], "tlc-report: error: unrecognized arguments: --bogus (see tlc-report --help)"),
    (["{root}/mt_width/width=512/.hydra"], "tlc-report: error: no run folders (with .hydra/, metrics.jsonl or "
                                           "result.json) under {root}/mt_width/width=512/.hydra"),
])
def test_a_bad_argument_is_one_line_and_exit_2(runs_root: Path, capsys, argv: list[str], message: str) -> None:
    assert run_main(*(arg.format(root=runs_root) for arg in argv)) == 2
    assert capsys.readouterr().err == message.format(root=runs_root) + "\n"
    assert not (runs_root / "report").exists()


def test_the_command_fails_in_one_line_without_loading_torch(runs_root: Path) -> None:
    done = subprocess.run([TLC_REPORT, str(runs_root), "--advise", "train_seconds"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["tlc-report: error: --advise 'train_seconds': expected KEY=NUMBER with KEY "
                                        "one of train_seconds=<training seconds (update time only)>, flops=<training "
                                        "FLOPs>, bytes=<bytes of the compressed model>"]
    code = ("import sys; from sweeps.report.cli import main\n"
            "try: main([sys.argv[1], '--claims', '--advise', 'bytes=1e6'])\n"
            "except SystemExit as done: assert done.code == 0, done.code\n"
            "loaded = {'torch', 'fairseq', 'wandb'} & set(sys.modules)\n"
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code, str(runs_root)], check=True, capture_output=True)


def test_wandb_workspace_spec_has_the_papers_panels(runs_root: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert run_main(str(runs_root), "--no-figures", "--wandb-workspace", "my-team/tlc") == 0
    assert "W&B workspace not uploaded: set WANDB_API_KEY" in capsys.readouterr().out
    spec = json.loads((runs_root / "report" / "wandb_workspace.json").read_text())
    assert (spec["entity"], spec["project"], spec["displayName"]) == ("my-team", "tlc", "train-large-then-compress")
    sections = {s["name"]: s["panels"] for s in spec["spec"]["section"]["panelBankConfig"]["sections"]}
    training, compression = sections.values()
    assert [(p["config"]["xAxis"], p["config"]["metrics"], p["config"]["groupBy"]) for p in training] == [
        ("train_seconds", ["valid/bleu"], "width.value"), ("flops", ["valid/bleu"], "width.value")]
    (scatter,) = compression
    assert (scatter["viewType"], scatter["config"]["xAxis"], scatter["config"]["yAxis"]) == (
        "Scatter Plot", "summary:bytes", "summary:final/valid_bleu")
    assert scatter["config"]["xAxisLogScale"] is True

"""Every figure the runs support is drawn, as a non-empty PNG and PDF, linked from report.md, and no other."""
from __future__ import annotations

from pathlib import Path

import pytest

from sweeps.report.cli import main
from sweeps.report.collect import collect
from sweeps.report.figures import draw_all
from tests.report_runs import compressions, mlm_runs, width_sweep, write_unfinished_run


def test_every_figure_is_written_as_png_and_pdf_and_linked(tmp_path: Path) -> None:
    runs_root = tmp_path / "runs"
    small, _, large = width_sweep(runs_root, (20.0, 30.0, 40.0))
    mlm_runs(runs_root, batch_floors=(20.0, 15.0, 14.9), size_floors=(25.0, None, 10.0), experiment="mlm")
    compressions(runs_root, small, large)
    write_unfinished_run(runs_root, "mt_width", "width=256", [1.0, 2.0], width=256)

    with pytest.raises(SystemExit) as done:
        main([str(runs_root), "--out", str(tmp_path / "report")])
    assert done.value.code == 0

    curves = {f"{sweep}_{task}_{metric}_vs_{axis}"
              for sweep, task, metric in (("mt_width", "toy_mt", "bleu"), ("mlm", "toy_mlm", "ppl"))
              for axis in ("train_seconds", "updates", "flops")}
    expected = curves | {"toy_mlm_batch_size", "toy_mt_bleu_vs_bytes", "toy_mt_frontier_training",
                         "toy_mlm_frontier_training", "toy_mt_frontier_memory"}
    figures = tmp_path / "report" / "figures"
    assert sorted(p.name for p in figures.iterdir()) == sorted(
        f"{stem}.{ext}" for stem in expected for ext in ("png", "pdf"))
    report = (tmp_path / "report" / "report.md").read_text()
    for stem in expected:
        png, pdf = figures / f"{stem}.png", figures / f"{stem}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
        assert f"](figures/{stem}.png)" in report and f"](figures/{stem}.pdf)" in report


def test_no_finished_runs_draw_nothing(tmp_path: Path) -> None:
    write_unfinished_run(tmp_path / "runs", "mt_width", "width=256", [1.0, 2.0], width=256)
    assert draw_all(collect([tmp_path / "runs"]), tmp_path / "figures") == []

"""The per-configuration summary: one row per configuration with its seeds and mean ± sd over them,
in report.md beside the per-run table, which (like runs.csv) keeps one row per run."""
from __future__ import annotations

import csv
import statistics
from pathlib import Path

from sweeps.report.collect import collect
from sweeps.report.table import (compression_replica_table, mean_sd, render, training_replica_table, training_table,
                                 write_csv)
from tests.report_runs import TIMES, params_of, replicas_of, rising, width_sweep, write_compress_run

AT_60 = [rising(cap, 10)[-1] for cap in (30.0, 28.0, 32.0)]  # width 64's three seeds at their last validation


def seeded(root: Path) -> list[Path]:
    width_sweep(root, (20.0,), widths=(32,))
    return replicas_of(root, "mt_width", "width=64", {1: rising(30, 10), 2: rising(28, 10), 3: rising(32, 10)},
                       width=64, times={2: [t + 1.0 for t in TIMES]})


def test_mean_sd_gives_the_sample_sd_and_counts_missing_values() -> None:
    assert mean_sd([27.0, 27.5, 28.0], 3) == "27.5 ± 0.5"
    assert mean_sd([27.0, None, 28.0], 3) == "27.5 ± 0.71 (n=2)"
    assert mean_sd([27.25], 1) == "27.25" and mean_sd([None, None], 2) == "-"


def test_replica_table_has_one_row_per_configuration_with_mean_sd_and_seeds(tmp_path: Path) -> None:
    runs = collect([seeded(tmp_path / "runs")[0].parent])
    table = training_replica_table(runs).splitlines()
    assert table[0] == ("| sweep | task | configuration | n | seeds | params | metric | best valid | final valid "
                        "| final test |")
    expected = f"{statistics.mean(AT_60):.4g} ± {statistics.stdev(AT_60):.2g}"
    assert table[2] == f"| mt_width | toy_mt | width=32 | 1 | - | {params_of(32, 2):,} | bleu | " \
                       f"{rising(20, 10)[-1]:.4g} | {rising(20, 10)[-1]:.4g} | - |"
    assert table[3] == (f"| mt_width | toy_mt | width=64 | 3 | 1, 2, 3 | {params_of(64, 2):,} | bleu | {expected} | "
                        f"{expected} | - |")
    assert len(table) == 4


def test_without_seeds_there_is_no_replica_table(tmp_path: Path) -> None:
    runs = collect(width_sweep(tmp_path / "runs", (20.0, 30.0)))
    assert training_replica_table(runs) == "" and compression_replica_table(runs) == ""
    assert "Mean over seeds" not in render(runs, [tmp_path], tmp_path, [], None, None)


def test_per_run_table_and_csv_keep_every_replica(tmp_path: Path) -> None:
    runs = collect([seeded(tmp_path / "runs")[0].parent])
    assert all(f"| width=64,seed={seed} |" in training_table(runs) for seed in (1, 2, 3))
    with write_csv(runs, tmp_path / "runs.csv").open() as handle:
        assert sorted(row["name"] for row in csv.DictReader(handle)) == [
            "width=32", "width=64,seed=1", "width=64,seed=2", "width=64,seed=3"]


def test_report_shows_the_replica_tables_under_the_run_tables(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    for source, valid in zip(seeded(root), (25.0, 27.0, 29.0)):
        write_compress_run(root, source, method="quantize", bits=8, bytes_=1000, valid=valid)
    runs = collect([root])
    compressed = compression_replica_table(runs).splitlines()
    assert compressed[2] == ("| toy_mt | quantize | 0.000 | 8 | 1,000 | 3 | 1, 2, 3 | bleu | 27 ± 2 | - | "
                             "compression=quantize,bits=8,sparsity=0.0,source=width=64 |")
    report = render(runs, [root], tmp_path, [], None, None)
    training, compression = report.split("## Compressed models")
    assert "### Mean over seeds" in training and training_replica_table(runs) in training
    assert "### Mean over seeds" in compression and compression_replica_table(runs) in compression

#!/usr/bin/env python
"""The Performance table of docs/performance.md, rendered from the committed benchmark results in
scripts/results/.

No figure in that table is typed by hand: each row is read from one file (named in its source
column) that `python -m scripts.bench all --json` wrote. A row with a goal says "met" only when the whole 95%
interval of its figure over repeats clears the goal (scripts/bench/stats.py); a figure measured
once, or estimated, has no interval and says "not shown".

    python scripts/render_performance.py          # rewrite docs/performance.md between its markers
    python scripts/render_performance.py --check  # exit 1 when the page and the files disagree

tests/unit/test_performance_table.py runs the check. Must not import torch or fairseq.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repo root holds `scripts`

from scripts.bench.stats import MET, verdict  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "scripts" / "results"
PAGE = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- performance:begin -->", "<!-- performance:end -->"
CPU = "bench_cpu.json"  # python -m scripts.bench all --threads 1 --json scripts/results/bench_cpu.json
INT8 = "bench_int8.json"  # python -m scripts.bench int8 --threads 1 --out scripts/results/bench_int8.json; optional
PREPARE = "bench_prepare.json"  # python -m scripts.bench prepare --json scripts/results/bench_prepare.json; optional

Row = tuple[str, str, str, str, str, str]  # figure, what it is, goal, measured, verdict, source


def threads(count: int, what: str = "thread") -> str:
    return f"{count} {what}{'s' if count > 1 else ''}"


def pct(value: float, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{value:{sign}.3%}" if abs(value) < 0.01 else f"{value:{sign}.1%}"


def secs(value: float) -> str:
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"


def estimate(e: dict | None, show: Callable[[float], str], of: str) -> str:
    """`1.012, 95% interval 0.990 to 1.034 over 10 pairs (0.97-1.08)`; one value: `(one run)`."""
    if not e:
        return "-"
    if e["low"] is None:
        return f"{show(e['mean'])} (one {of.rstrip('s')}, no interval)"
    return (f"{show(e['mean'])}, {e['level']:.0%} interval {show(e['low'])} to {show(e['high'])} over "
            f"{e['n']} {of} (range {show(e['min'])} to {show(e['max'])})")


def judged(estimates: list[tuple[dict | None, tuple[str, float]]], unmeasured: str = "") -> str:
    """The verdict column: met, or not shown with why."""
    if verdict(estimates) == MET:
        return MET
    if unmeasured:
        return f"not shown: {unmeasured}"
    if any(not e or e.get("low") is None for e, _ in estimates):
        return "not shown: measured once, no interval"
    return "not shown: the interval does not clear the goal"


def overhead_rows(s: dict, source: str) -> list[Row]:
    ratio, updates = s["ratio"], s["pairs"][0]["tlc"]["updates"]
    return [("harness overhead",
             f"plain `fairseq-train` tokens/s ÷ `tlc-train` tokens/s, same toy config and flags "
             f"(`engine/fairseq_args.py`), {updates} updates, pairs A B A B; both from the end of the first "
             f"update; mean of the pairs' ratios (median {s['median_ratio']:.3f})",
             f"≤ {s['goal']:.2f}", estimate(ratio, lambda v: f"{v:.3f}", "pairs"),
             judged([(ratio, ("<=", s["goal"]))]), f"{source} `overhead`"),
            ("time between updates", "`tlc-train`'s wall time outside its updates (records, clock, loop), from "
             "its own records, in the same runs", "", estimate(s["loop_share"], pct, "runs"), "",
             f"{source} `overhead`")]


def startup_rows(s: dict, source: str) -> list[Row]:
    imports, packages = s["imports"], s["imports"]["package_seconds"]
    shown = ", ".join(f"{name} {secs(packages[name])}" for name in ("fairseq", "sklearn", "torch", "torch._dynamo")
                      if name in packages)
    return [("startup", "command to first update (imports, config, data, model, optimizer), on the overhead "
             "runs (`tlc-train` without the `-X importtime` one)", "",
             f"`tlc-train` {estimate(s['tlc_train'], secs, 'runs')}; `fairseq-train` "
             f"{estimate(s['fairseq_train'], secs, 'runs')}; first update "
             f"{estimate(s['first_update'], secs, 'runs')}", "", f"{source} `startup`"),
            ("startup imports", "what one `tlc-train` run imports (`python -X importtime`, cumulative where each "
             "package first loads); wandb, ray, submitit and matplotlib must not load when unused", "",
             f"{secs(imports['import_seconds'])} in all: {shown}, the harness's own modules "
             f"{secs(imports['own_modules_seconds'])}; unused optional packages loaded: "
             f"{', '.join(imports['imported_heavy']) or 'none'}", "", f"{source} `startup.imports`")]


def fan_out_rows(s: dict, source: str) -> list[Row]:
    sweeps = len(s.get("sweeps", [])) or 1  # files from before the repeats hold one sweep
    ratio = estimate(s["interval"], lambda v: f"{v:.2f}", "sweeps") if s.get("interval") else f"{s['ratio']:.2f}"
    gap = f", {s['job_gap_seconds']:.0f} s between a run's end and the next one's start on its slot" \
        if s.get("job_gap_seconds") is not None else ""
    return [("fan-out", f"makespan ÷ (Σ run seconds ÷ slots): {s['jobs']} toy runs on {s['slots']} CPU slots with "
             f"`hydra/launcher=gpus` (Ray), {f'{sweeps} sweeps' if sweeps > 1 else 'one sweep'}", f"≤ {s['goal']:.2f}",
             f"{ratio}; from the first run's start to the last one's end {s['jobs_only_ratio']:.2f} "
             f"({s['first_start_seconds']:.0f} s before the first run started{gap}, {s['after_last_seconds']:.0f} s "
             "after the last ended)", judged([(s.get("interval"), ("<=", s["goal"]))]), f"{source} `fan_out`")]


def eval_share_rows(s: dict, source: str) -> list[Row]:
    paper, toy = s["paper"], s["toy"]
    rates = {r["rate"] for r in paper}
    rate = f"{paper[0]['train_flops_per_second'] / 1e12:.0f} TFLOP/s" if len(paper) and rates == {"assumed"} else ""
    budgets = ", ".join(f"{task} {r['budget_seconds']:g} s" for task, r in toy.items())
    return [("eval share, paper presets",
             "evaluation ÷ wall seconds at each preset's default eval settings and its sweep's budget, estimated "
             "from FLOPs (`python -m scripts.bench eval-share`; `--gpu` puts in the measured rate)", f"≤ {s['goal']:.0%}",
             ", ".join(f"{r['preset']} {pct(r['eval_share'])}" for r in paper)
             + (f", at an assumed training rate of {rate}" if rate else "")
             + f"; each under {s['goal']:.0%} at any budget above {max(r['budget_for_goal'] for r in paper):.0f} s",
             judged([(None, ("<=", s["goal"]))], "an estimate, not a measurement"), f"{source} `eval_share.paper`"),
            ("eval share, toy presets", f"the same, measured through the real loop on CPU at the toy sweeps' "
             f"budget ({budgets}), one run each", "",
             ", ".join(f"{task} {pct(r['eval_share'])}" for task, r in toy.items()), "",
             f"{source} `eval_share.toy`")]


def clock_rows(s: dict, source: str) -> list[Row]:
    clock, goal = s["clock_error_interval"], s["clock_goal"]
    tests = s["clock_self_test_repeats"]
    caught = [(tests["faulty_error"], ("beyond", goal)), (tests["correct_error"], ("within", goal))]
    self_test = judged(caught) if tests["caught"] == tests["runs"] else "not shown: a broken clock was missed"
    return [("clock", "the training clock ÷ the same updates timed independently − 1 (on CPU by a second host "
             "timer, `scripts/bench/clock_check.py`), over the eval-share row's toy loop runs "
             f"({', '.join(s['clock_errors'])})", f"within ±{goal:.0%}",
             estimate(clock, lambda v: pct(v, signed=True), "runs"),
             judged([(clock, ("within", goal))]), f"{source} `device.clock_error_interval`"),
            ("clock self-test", f"the clock check on synthetic updates, under a correct clock and a broken one "
             f"({tests['fault']}): the check must pass the first and fail the second", "caught",
             f"caught in {tests['caught']} of {tests['runs']}; broken clock "
             f"{estimate(tests['faulty_error'], lambda v: pct(v, signed=True), 'runs')}; correct clock "
             f"{estimate(tests['correct_error'], lambda v: pct(v, signed=True), 'runs')}", self_test,
             f"{source} `device.clock_self_test_repeats`")]


def mfu_rows(s: dict, source: str) -> list[Row]:
    peak = s["peak"]["flops_per_second"]
    models = "; ".join(f"{name} {m['tokens_per_second']:,.0f} tokens/s, MFU {pct(m['mfu'])}"
                       for name, m in s["models"].items() if "error" not in m)
    return [("MFU, CPU", "training FLOPs/s (`train_large/flops.py`) ÷ this CPU's measured fp32 matmul peak, toy "
             "models in fp32, one run each", "", f"{models}; peak {peak / 1e9:.0f} GFLOP/s", "",
             f"{source} `device.models`")]


def report_rows(s: dict, source: str) -> list[Row]:
    e, goal = s["interval"], s["goal_seconds"]
    return [("report", f"`tlc-report --claims --advise` over {s['runs']} synthetic finished runs "
             f"({s['records_per_run']} records each), command to exit (`python -m scripts.bench report`)", f"< {goal:g} s",
             estimate(e, lambda v: f"{v:.2f} s", "runs"), judged([(e, ("<", goal))]), f"{source} `report`")]


def int8_rows(r: dict, source: str) -> list[Row]:
    """`python -m scripts.bench int8`'s file: one speedup per case, no repeats of the whole run, no goal."""

    def label(case: dict) -> str:
        parts = [f"{case['sparsity']:.0%} pruned"] if case["sparsity"] else []
        return " + ".join(parts + ([f"{case['bits']}-bit"] if case["method"] != "prune" else []))

    dense = [label(c) for c in r["cases"] if c["kernel"].startswith("no int8 kernel")]
    machine = r["machine"]
    return [("int8 latency", "median of paired ratios, fp32 source ÷ the model rebuilt from its packed file, per "
             f"batch of {r['batch']} sentences, CPU, {threads(machine['threads'])}: {r['model']}, compressed and "
             "packed as `tlc-compress` does (`python -m scripts.bench int8`). 8-bit weights run torch's int8 Linear built "
             "from the file's codes and scales; other widths (no CPU kernel) and unstructured sparsity (no sparse "
             "kernel) run dequantized dense fp32, and the JSON says so per case", "",
             "; ".join(f"{label(c)}: {c['speedup']:.2f}x" for c in r["cases"])
             + (f" ({', '.join(dense)}: dense fp32 maths like the source's, so their distance from 1.00 is this "
                f"machine's noise)" if dense else ""), "", source)]


def prepare_rows(r: dict, source: str) -> list[Row]:
    """`python -m scripts.bench prepare`'s file: measured once, so no interval and no verdict."""
    s = r["sections"]["prepare"]
    (one, every), (quarter, full), node = s["translation"], s["memory"], s["projection"]
    wmt, text = node["wmt14_en_fr"], node["corpus_16gb"]
    corpus = (f"{one['lines'] / 1e6:g}M synthetic pairs (the toy text repeated and shuffled, "
              f"{s['corpus']['bytes_per_pair']:.0f} bytes a pair)")
    faster = ", ".join(f"{stage} {one['stages'][stage] / every['stages'][stage]:.2f}x"
                       for stage in ("normalise", "encode", "binarize"))
    return [("prepare throughput", f"`tlc-prepare translation` on {corpus}, command to exit, 1 worker | "
             f"{every['workers']} workers (`python -m scripts.bench prepare`)", "",
             f"{one['lines_per_second']:,.0f} | {every['lines_per_second']:,.0f} pairs/s; with {every['workers']} "
             f"workers {faster} faster", "measured once", f"{source} `prepare.translation`"),
            ("prepare memory", f"peak memory of the main process at {quarter['lines']:,} and {full['lines']:,} pairs, "
             f"sentencepiece's sample fixed at {full['spm_lines']:,} lines (the other stages stream); and at "
             f"{every['lines']:,} pairs with the default sample of {every['spm_lines']:,} lines, which "
             "sentencepiece's training holds in memory", "flat with corpus size",
             f"{quarter['peak_mib']:,.0f} MiB, {full['peak_mib']:,.0f} MiB; {every['peak_mib']:,.0f} MiB (largest "
             f"worker {every['worker_peak_mib']:,.0f} MiB)", "measured once", f"{source} `prepare.memory`"),
            ("prepare at paper scale", f"projected on {node['cores']} cores: each stage's serial and parallel parts "
             f"from the 1- and {every['workers']}-worker runs of each kind (Amdahl's law), scaled to the lines. WMT14 "
             f"En-Fr: {wmt['lines'] / 1e6:.1f}M pairs at the toy length ({wmt['gigabytes']:.1f} GB; longer pairs "
             f"take about {wmt['seconds_per_gb']:.0f} s per GB). 16 GB of masked-LM text, normalisation "
             f"{text['stages']['normalise'] / 60:.0f} min of it (its documents are made in one process)", "",
             f"WMT14 En-Fr {wmt['seconds'] / 60:.1f} min; 16 GB {text['seconds'] / 60:.1f} min", "projected",
             f"{source} `prepare.projection`")]


# (section, its rows) in the table's order.
ROWS = (("overhead", overhead_rows), ("device", clock_rows), ("eval_share", eval_share_rows),
        ("startup", startup_rows), ("fan_out", fan_out_rows), ("report", report_rows), ("device", mfu_rows))


def machine_line(name: str, result: dict) -> str:
    m, gpu = result["machine"], result["machine"]["gpu"]
    gpu = f"{gpu['name']} ({gpu['memory_gib']:g} GiB)" if gpu else "no GPU"
    load = f"1-minute load average {m['load_average'][0]:.1f} at the start, {m['load_average_end'][0]:.1f} at the end"
    return (f"`scripts/results/{name}`: a {result['mode']} run started {result['started']} on {m['cpu_model']}, "
            f"{m['cpu_cores']} cores, {threads(result['threads'], 'torch thread')} per run, {gpu}; torch {m['torch']}, CUDA {m['cuda'] or 'none'}, fairseq "
            f"{m['fairseq']}, Python {m['python']}; {load}; {round(result['bench_seconds'] / 60)} min in all.")


def render(results: Path = RESULTS) -> str:
    """The Markdown between the page's markers, from the result files under `results`."""
    result = json.loads((results / CPU).read_text())
    source = f"`scripts/results/{CPU}`"
    rows: list[Row] = []
    for name, rows_of in ROWS:
        if name in result["sections"] and "skipped" not in result["sections"][name]:
            rows += rows_of(result["sections"][name], source)
    lines = ["| figure | what it is | goal | measured | verdict | source |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    if (results / INT8).is_file():  # another benchmark's file, committed on its own
        int8 = json.loads((results / INT8).read_text())
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in int8_rows(int8, f"`scripts/results/{INT8}`")]
    if (results / PREPARE).is_file():  # committed on its own, like int8
        prepare = json.loads((results / PREPARE).read_text())
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in prepare_rows(prepare, f"`scripts/results/{PREPARE}`")]
    lines += ["", machine_line(CPU, result)]
    if (results / PREPARE).is_file():
        lines += ["", machine_line(PREPARE, prepare)]
    if (results / INT8).is_file():
        m = int8["machine"]
        lines += ["", f"`scripts/results/{INT8}`: started {m['date']} on {m['cpu_model']}, {m['cpu_cores']} cores, "
                  f"torch {m['torch']} ({m['quantized_engine']} quantized engine), Python {m['python']}; 1-minute "
                  f"load average {m['load_average'][0]:.1f} at the start."]
    return "\n".join(lines)


def block(text: str) -> str:
    """What the page holds between its markers.

    Raises:
        ValueError: when a marker is missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} ... {END} block")
    return text[start + len(BEGIN):end].strip("\n")


def replaced(text: str, rendered: str) -> str:
    block(text)  # raises without the markers
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{rendered}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs from the files")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the committed result files")
    parser.add_argument("--page", type=Path, default=PAGE, help="the Markdown page holding the markers")
    args = parser.parse_args(argv)
    text, rendered = args.page.read_text(), render(args.results)
    try:
        current = block(text)
    except ValueError as err:
        print(f"render_performance.py: {args.page}: {err}", file=sys.stderr)
        return 2
    if args.check:
        if current != rendered:
            print(f"{args.page}: the Performance table differs from {args.results}; run "
                  "python scripts/render_performance.py", file=sys.stderr)
            return 1
        return 0
    args.page.write_text(replaced(text, rendered))
    print(f"wrote the Performance table of {args.page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The suite's report as a table on stdout: one row per figure, with its section, value and goal.
Reads only the report dict; must not import torch or fairseq.
"""
from __future__ import annotations

from typing import Callable


def table(report: dict) -> str:
    """The report as a table: section, figure, value, goal."""
    rows = [("section", "figure", "value", "goal")]
    for name, section in report["sections"].items():
        if "skipped" in section:
            rows.append((name, section["skipped"], "skipped", ""))
            continue
        rows += [(name, *row) for row in TABLE_ROWS[name](section)]
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * len(lines[0]))
    machine, gpu = report["machine"], report["machine"]["gpu"]
    gpu = f"{gpu['name']} ({gpu['memory_gib']:g} GiB)" if gpu else "no GPU"
    lines.append(f"({report['mode']} run on {machine['host']}: {machine['cpu_model']}, {machine['cpu_cores']} CPU "
                 f"cores, {report['threads']} torch thread{'s' if report['threads'] > 1 else ''} per run, load average "
                 f"{machine['load_average'][0]:.1f} at the start and {machine['load_average_end'][0]:.1f} at the "
                 f"end, {gpu}; "
                 f"{report['bench_seconds']:.0f} s)")
    return "\n".join(lines)


def pct(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if abs(value) < 0.01 else f"{value:.1%}"


def num(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def mean(e: dict | None, show: Callable[[float], str]) -> str:
    """`1.012 (0.990-1.034, n=10)`: a stats interval; a single value has none."""
    if not e:
        return "-"
    if e["low"] is None:
        return f"{show(e['mean'])} (n=1)"
    return f"{show(e['mean'])} ({show(e['low'])} to {show(e['high'])}, n={e['n']})"


def overhead_rows(s: dict) -> list[tuple]:
    pairs = s["pairs"]
    return [("fairseq-train / tlc-train tokens/s, mean of pairs (95% interval)",
             mean(s["ratio"], lambda v: f"{v:.3f}"), f"<= {s['goal']}"),
            ("the same, median of pairs", f"{s['median_ratio']:.3f}", ""),
            ("tlc-train wall time between updates (its records)", mean(s["loop_share"], pct), ""),
            ("tlc-train tokens/s per pair", " ".join(f"{p['tlc']['tokens_per_second']:.0f}" for p in pairs), ""),
            ("fairseq-train tokens/s per pair", " ".join(f"{p['fairseq']['tokens_per_second']:.0f}" for p in pairs),
             "")]


def startup_rows(s: dict) -> list[tuple]:
    imports = s["imports"]
    return [("tlc-train: command to first update", num(s["tlc_train_seconds"], " s"), ""),
            ("fairseq-train: command to first update", num(s["fairseq_train_seconds"], " s"), ""),
            ("tlc-train / fairseq-train, command to first update, mean of pairs",
             mean(s.get("ratio"), lambda v: f"{v:.3f}"), f"<= {s.get('goal', 1.0)}"),
            ("tlc-train: first update (warm-up)", num(s["first_update_seconds"], " s", 2), ""),
            ("tlc-train imports (of which our modules)",
             f"{imports['import_seconds']:.1f} s ({imports['own_modules_seconds']:.2f} s)", ""),
            ("optional packages imported without use", ", ".join(imports["imported_heavy"]) or "none", "none")]


def fan_out_rows(s: dict) -> list[tuple]:
    what = f"{s['jobs']} jobs on {s['slots']} slots"
    rows = [(f"makespan / (sum of job times / slots), {what}", mean(s.get("interval"), lambda v: f"{v:.3f}")
             if s.get("interval") else f"{s['ratio']:.3f}", f"<= {s['goal']}"),
            ("the same from the first job's start to the last one's end", f"{s['jobs_only_ratio']:.3f}", "")]
    if s.get("job_gap_seconds") is not None:  # files from before the breakdown lack it
        rows.append(("makespan breakdown: before the first job, gap before each next job, after the last",
                     breakdown(s), ""))
    floor = s.get("ray_alone")  # files from before the floor lack it
    if floor:
        rows.append((f"Ray alone, the same shape ({floor['task_seconds']:.0f} s tasks): ratio; before, gap, after",
                     f"{mean(floor['interval'], lambda v: f'{v:.3f}')}; {breakdown(floor)}", ""))
    return rows


def breakdown(s: dict) -> str:
    """Seconds before the first job, in each gap (none with no more jobs than slots), after the last."""
    gap = "-" if s["job_gap_seconds"] is None else f"{s['job_gap_seconds']:.1f} s"
    return f"{s['first_start_seconds']:.1f} s, {gap}, {s['after_last_seconds']:.1f} s"


def eval_share_rows(s: dict) -> list[tuple]:
    rows = [(f"{task}, measured at {r['budget_seconds']:g} s (CPU)", pct(r["eval_share"]), "")
            for task, r in s["toy"].items()]
    rows += [(f"{r['preset']}, estimated at {r['budget_seconds']:g} s ({r['rate']} GPU rate)", pct(r["eval_share"]),
              f"<= {r['goal']:.0%}") for r in s["paper"]]
    return rows


def device_rows(s: dict, peak_name: str = "CPU fp32") -> list[tuple]:
    peak = s["peak"]["flops_per_second"]
    shown = num(peak / 1e12, " TFLOP/s", 0) if peak >= 1e12 else num(peak / 1e9, " GFLOP/s", 0)
    rows = [(f"{peak_name} matmul peak", shown, "")]
    for name, m in s["models"].items():
        if "error" in m:
            rows.append((name, m["error"], ""))
            continue
        goal = ">= 50% (one H100)" if name.startswith("roberta_24x1024") else ""
        rows.append((f"{name} tokens/s | MFU", f"{m['tokens_per_second']:,.0f} | {pct(m['mfu'])}", goal))
    return rows + clock_rows(s)


def clock_rows(s: dict) -> list[tuple]:
    check, test = s.get("clock_check") or {}, s.get("clock_self_test") or {}
    timer = f"{check['timer']}, {check['updates']} updates" if "timer" in check else check.get("error", "no run")
    error = "-" if s["clock_error"] is None else f"{s['clock_error']:+.3%}"
    rows = [(f"clock vs each update timed independently ({timer})", error, f"within {s['clock_goal']:.0%}")]
    if "clock_error_interval" in s:  # CPU: every toy loop run's check
        rows.append((f"the same, mean over the loop runs ({', '.join(s['clock_errors'])})",
                     mean(s["clock_error_interval"], lambda v: f"{v:+.3%}"), f"within {s['clock_goal']:.0%}"))
    repeats = s.get("clock_self_test_repeats")
    if repeats:
        rows.append((f"clock check self-test: {repeats['fault']}, caught {repeats['caught']} of {repeats['runs']}",
                     mean(repeats["faulty_error"], pct), "caught"))
    elif "faulty" in test:
        verdict = "caught" if test["caught"] else "MISSED"
        rows.append((f"clock check self-test: {test['fault']}", f"{pct(test['faulty']['error'])} {verdict}",
                     "caught"))
    elif test:
        rows.append(("clock check self-test", test.get("error", "-"), "caught"))
    return rows


def report_rows(s: dict) -> list[tuple]:
    return [(f"tlc-report --claims --advise over {s['runs']} runs ({s['records_per_run']} records each), mean",
             mean(s.get("interval"), lambda v: f"{v:.2f} s"), f"< {s['goal_seconds']:g} s")]


def prepare_rows(s: dict) -> list[tuple]:
    one, every = s["translation"]
    (quarter, full), (_, mlm), node = s["memory"], s["mlm"], s["projection"]
    return [(f"translation, {one['lines']:,} pairs: pairs/s, 1 worker | {every['workers']}",
             f"{one['lines_per_second']:,.0f} | {every['lines_per_second']:,.0f}", ""),
            (f"the same, speed-up with {every['workers']} workers: binarize | whole preparation",
             f"{s['speedup']['binarize']:.2f} | {s['speedup']['total']:.2f}", ""),
            ("peak memory, main process | largest worker",
             f"{every['peak_mib']:,.0f} | {every['worker_peak_mib']:,.0f} MiB", ""),
            ((f"peak memory at {full['lines']:,} / at {quarter['lines']:,} pairs (sentencepiece sample "
              f"{full['spm_lines']:,} lines)"), f"{full['peak_mib']:,.0f} / {quarter['peak_mib']:,.0f} MiB", "bounded"),
            (f"masked LM, {mlm['lines']:,} lines: lines/s, {mlm['workers']} workers", f"{mlm['lines_per_second']:,.0f}",
             ""),
            (f"WMT14 En-Fr ({node['wmt14_en_fr']['lines'] / 1e6:.1f}M pairs), {node['cores']} cores, projected",
             f"{node['wmt14_en_fr']['hours']:.2f} h", ""),
            (f"16 GB of text, {node['cores']} cores, projected", f"{node['corpus_16gb']['hours']:.2f} h", "")]


def setup_rows(s: dict) -> list[tuple]:
    return [("./scripts/setup.sh, fresh clone, empty pip cache", num(s["seconds"] / 60, " min"), "")] + [
        (f"  {step}", num(seconds, " s", 0), "") for step, seconds in s["steps"].items()]


def demo_rows(s: dict) -> list[tuple]:
    return [("./scripts/demo.sh on a fresh clone: setup", num(s["setup_seconds"] / 60, " min"), ""),
            ("the demo after setup", mean(s["after_setup"], lambda v: f"{v / 60:.1f} min") if "after_setup" in s
             else num(s["seconds_after_setup"] / 60, " min"), f"<= {s['goal_seconds'] / 60:g} min"),
            ("lines it shows after setup", str(s["lines_after_setup"]), "<= 60"),
            ("git status after the demo", "clean" if not s["git_status"] else f"{len(s['git_status'])} changes",
             "clean")]


def gpu_rows(s: dict) -> list[tuple]:
    return device_rows(s, "GPU bf16")


def slurm_rows(s: dict) -> list[tuple]:
    return [(f"SLURM job start to its first update, {len(s['jobs'])} jobs on the local cluster",
             mean(s["start_to_first_update"], lambda v: f"{v:.1f} s"), ""),
            ("sweep command to the first job's start", num(s["command_to_first_start_seconds"], " s"), "")]


TABLE_ROWS = {"overhead": overhead_rows, "startup": startup_rows, "fan_out": fan_out_rows,
              "eval_share": eval_share_rows, "device": device_rows, "report": report_rows, "gpu": gpu_rows,
              "prepare": prepare_rows, "setup": setup_rows, "demo": demo_rows,
              "slurm": slurm_rows}

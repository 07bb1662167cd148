"""Markdown tables of `studio bench` reports, written beside their JSON for pasting into notes and issues.

One function per report shape: live-rate timings (`results`: lite tiers, preprocessing), the engine on tiny
models (`tiers`), and full-size random weights (`runs`). Every table says what machine measured it.
"""

from __future__ import annotations

from pathlib import Path


def write_markdown(report: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(report))
    return path


def markdown(report: dict) -> str:
    if "tiers" in report:
        body = _tiers(report)
    elif "runs" in report:
        body = _runs(report)
    else:
        body = _results(report)
    return f"## {_title(report)}\n\n{_machine(report)}\n\n{body}\n"


def _title(report: dict) -> str:
    name = report.get("benchmark", "benchmark")
    app = report.get("app") or (report.get("tier") and f"{report['tier']} tier")
    return f"{name}: {app}" if app else name


def _machine(report: dict) -> str:
    if "gpu" in report:
        return f"Measured on {report['gpu']} ({report['device']}, {report['dtype']}, torch {report['torch']}); random weights."
    machine = report.get("machine", {})
    if not machine:
        return ""
    return (f"Measured on {machine.get('processor')}, {machine.get('cpu_count')} cores, {machine.get('platform')}, "
            f"Python {machine.get('python')}.")  # fmt: skip


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _results(report: dict) -> str:
    rows = [[name, r.get("median_ms"), r.get("p90_ms"), r.get("fps"), r.get("frames")]
            for name, r in report.get("results", {}).items()]  # fmt: skip
    table = _table(["measurement", "median ms", "p90 ms", "FPS", "frames"], rows)
    return table + (f"\n\nLive FPS: {report['fps']}" if "fps" in report else "")


def _tiers(report: dict) -> str:
    rows = []
    for name, t in report["tiers"].items():
        preview = t.get("preview") or {}
        overhead = report.get("overhead_pct", {}).get(name)
        rows.append([name, t["model"], t.get("lora") or "", t["steps"], "on" if t["cfg"] else "off", t["studio_ms"],
                     t["bare_diffusers_ms"], f"{t['overhead_ms']} ({overhead} %)", t["denoise_ms"], t["step_ms"],
                     f"{preview.get('ms_each')} ({preview.get('pct_of_step')} %)" if preview else "",
                     t.get("peak_memory_mb")])  # fmt: skip
    header = ["tier", "model", "LoRA", "steps", "CFG", "studio ms", "bare diffusers ms", "overhead ms (%)",
              "denoise ms", "ms/step", "preview ms (% of step)", "peak MB"]  # fmt: skip
    lines = [_table(header, rows), ""]
    for name in [n for n in report["tiers"] if n != "teacher"]:
        ratios = report if name == "student" else report.get(name, {})
        if "speedup_total" in ratios:
            lines.append(f"- {name} vs teacher: ×{ratios['speedup_total']} in total, ×{ratios['speedup_denoise']} on "
                         f"denoising = {ratios['denoise_speedup_vs_step_ratio']} × the step ratio "
                         f"({ratios['step_ratio']}); a student step costs {ratios['student_step_cost_vs_teacher']} × "
                         "a teacher step.")  # fmt: skip
    if report.get("note"):
        lines.append(f"- {report['note']}")
    return "\n".join(lines)


def _runs(report: dict) -> str:
    rows = []
    for run in report["runs"]:
        fusion = run.get("fusion") or {}
        mode = run["compiled"] if isinstance(run["compiled"], str) else "compiled" if run["compiled"] else "eager"
        teacher = run.get("teacher") or {}
        rows.append([run["family"], f"{run['size']}²", mode, run["student"]["median_s"], teacher.get("median_s"),
                     f"×{run['speedup']}" if "speedup" in run else None,
                     (run.get("student_lora_unfused") or {}).get("median_s"), fusion.get("student_fused_median_s"),
                     run["student"].get("first_call_s"), run.get("peak_memory_gb")])  # fmt: skip
    header = ["family", "size", "mode", "student s", "teacher s", "speed-up", "student, LoRA unfused s",
              "student, LoRA merged s", "student first call s", "peak GB"]  # fmt: skip
    return _table(header, rows)

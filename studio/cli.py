"""The `studio` command: list apps, run one on files, inspect preprocessing, benchmark, serve.

    studio list
    studio run preprocess --image photo.jpg --out result.png
    studio preprocess photo.jpg --out out/
    studio bench preprocess --json bench.json
    studio serve [APP] [--host H] [--port P] [--share] [--device D]
    studio fetch makeup --dry-run
    studio info outputs/2025-06-01/2025-06-01_14-03-27_makeup_student_seed7.png   # a kept UI result's settings
    studio api makeup                     # the app's gradio_client endpoints, parameters and defaults
    studio space makeup --out space/      # a ready Hugging Face Space
    studio plan tryon --vram 8            # predicted peak GPU memory and the memory mode, before loading anything
    studio distill --teacher sd15 --images photos/ --out runs/mine   # your own few-step LoRA student
    studio batch makeup --source faces/ --preset berry --out out/ [--ray [--address ray://head:10001]]
    studio serve-ray makeup [--address ADDR] [--replicas N]   # the app's endpoint on Ray Serve

Errors a user can fix print one line starting with "error:" and exit non-zero (2 bad input,
3 missing weights); `--json` output goes to stdout, messages to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .errors import InputError


#: The help of every --device flag.
DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps (default: STUDIO_DEVICE, else auto: CUDA, then MPS, then the CPU)"


def _add_param_flags(parser: argparse.ArgumentParser, app, skip_images: bool = False, several: bool = False) -> None:
    """One flag per parameter. `several` (batch): a choice flag takes several values, and the batch runs each."""
    from .schema import ChoiceParam, ImageListParam, ImageParam, SliderParam, ToggleParam

    def add(*flags, **kwargs):  # help text is the app's own prose: a "%" in it is a percent sign, not a format
        return parser.add_argument(*flags, **{**kwargs, "help": kwargs["help"].replace("%", "%%")})

    for p in app.params:
        if skip_images and p.name in (app.primary_input, "tier"):
            continue  # `studio compare` feeds the image from --inputs and runs every tier itself
        flag = f"--{p.name.replace('_', '-')}"
        if isinstance(p, ToggleParam):
            add(flag, dest=p.name, action=argparse.BooleanOptionalAction, default=None, help=p.help)
        elif isinstance(p, ImageParam):
            add(flag, dest=p.name, metavar="IMAGE", default=None,
                help=f"{p.help} (required)" if p.required else p.help)  # fmt: skip
        elif isinstance(p, ImageListParam):
            add(flag, dest=p.name, metavar="IMAGE", nargs="*", default=None,
                help=f"{p.help} (up to {p.max_items} files)")  # fmt: skip
        else:
            extra = f" [{p.minimum:g}–{p.maximum:g}]" if isinstance(p, SliderParam) else ""
            choices = getattr(p, "choices", None) or None
            many = {"nargs": "+"} if several and isinstance(p, ChoiceParam) else {}
            add(flag, dest=p.name, default=None, choices=choices, **many,
                help=f"{p.help}{extra} (default {p.default})" + (" Several: each is run." if many else ""))  # fmt: skip


def _save_rgb(path: Path, rgb) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _run_app(app_id: str, values: dict, out: Path | None, extras_dir: Path | None, device: str | None,
             ctx=None) -> int:  # fmt: skip
    from studio.apps import get_app

    from .context import make_context
    from .ui.session import Call

    call = Call(get_app(app_id), ctx or make_context(device), values)
    show_progress = sys.stderr.isatty()
    try:
        for update in call.updates():
            if show_progress and not update.done:
                print(f"\r{update.badge[:100]:<100}", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        call.cancel()
        print("\nerror: cancelled; nothing was written.", file=sys.stderr)
        return 130
    if show_progress:
        print(file=sys.stderr)
    result = call.result
    if out is not None and result.image is not None:
        _save_rgb(out, result.image)
    if extras_dir is not None:
        for name, image in result.extras.items():
            _save_rgb(extras_dir / f"{_slug(name)}.png", image)
        (extras_dir / "summary.json").write_text(json.dumps(result.summary(), indent=2))
    print(json.dumps(result.summary(), indent=2))
    return 0


def cmd_list(args) -> int:
    from studio.apps import all_apps

    for app in all_apps():
        print(f"{app.id:<14} {app.title}")
    return 0


def cmd_preprocess(args) -> int:
    values = {"image": args.image, "max_faces": args.max_faces, "clothing": args.clothing,
              "with_controls": args.controls}  # fmt: skip
    return _run_app("preprocess", values, args.out / "overlay.png", args.out, args.device)


def _context(args, app_id: str):
    """make_context for `run` / `compare`, on the tiny studio with --tiny, with --student picked for the app."""
    from .context import make_context

    ctx = make_context(args.device)
    if args.tiny:
        from .engine.tiny import tiny_context

        ctx = tiny_context(ctx, echo=lambda m: print(m, file=sys.stderr))
    if args.student:
        ctx = ctx.with_student(app_id, args.student)
        ctx.student_choice(app_id)  # an unknown id fails here, before any work
    return ctx


def cmd_run(args, app) -> int:
    values = {p.name: getattr(args, p.name) for p in app.params}
    return _run_app(app.id, values, args.out, args.extras, args.device, ctx=_context(args, app.id))


def cmd_bench(args) -> int:
    if args.target == "preprocess":
        from .bench import bench_preprocess

        report = bench_preprocess(image=args.image, frames=args.frames, out_json=args.json, plot=args.plot)
    elif args.live:
        if not args.tiny:
            raise InputError("--live measures the student live path on the tiny hub here: add --tiny (on a GPU, "
                             "benchmarks/gpu.sh measures it at full size).")  # fmt: skip
        report = _bench_live(args)
    elif args.tiny or args.random_weights:
        report = _bench_diffusion(args)
    else:
        from studio.apps import get_app

        from .bench.lite import bench_lite

        app = get_app(args.target)
        if not app.offers("bench"):
            print(f"error: the '{app.id}' app has no lite-tier benchmark; try --tiny.", file=sys.stderr)
            return 2
        report = bench_lite(app, tier=args.tier, frames=args.frames, out_json=args.json, plot=args.plot,
                            image=args.image)  # fmt: skip
    if args.json is not None:
        from .bench_tables import write_markdown

        report["markdown"] = str(write_markdown(report, args.json.with_suffix(".md")))
    print(json.dumps(report, indent=2))
    return 0


def cmd_plan(args) -> int:
    """`studio plan APP`: the app's predicted peak GPU memory and memory mode, student and teacher (nothing loads)."""
    from .engine.planner import plan_for_cli

    print(json.dumps(plan_for_cli(args.app, args.vram, args.resolution, args.device), indent=2))
    return 0


def _bench_live(args) -> dict:
    """`--tiny --live`: the student live path (studio/live_student.py) on the tiny hub: FPS and dropped frames."""
    from studio.apps import get_app

    from .bench.live import bench_live

    return bench_live(get_app(args.target), seconds=args.seconds, out_json=args.json, plot=args.plot)


def _bench_diffusion(args) -> dict:
    """`--tiny`: the engine on the tiny hub (student vs teacher, studio overhead); `--random-weights`:
    full-size architectures of the app's model family with random weights (speed only, never quality)."""
    from studio.models import load_catalog

    catalog = load_catalog()
    recipes = catalog.apps
    if args.target not in recipes:
        raise InputError(f"No diffusion recipe for '{args.target}'. Apps with one: {', '.join(recipes)}.")
    if args.tiny:
        from .engine.benchmark import bench_tiny, plot_tiers

        report = bench_tiny(args.target, repeats=args.repeats or 11)
        plotter = plot_tiers
    else:
        from .engine.bench_random import run

        device = args.device or "cuda"
        modes = ("eager", "compiled") if args.compile else ("eager",)
        recipe = recipes[args.target]
        # A LoRA student is also timed with a random rank-64 LoRA unmerged, and merged the studio's way (fusion.py).
        lora_rank = 64 if catalog.get(recipe.student).kind == "lora" else 0
        report = run((recipe.family,), modes, device, repeats=args.repeats or 5, lora_rank=lora_rank)
        plotter = None
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    plot = args.plot or (args.json.with_suffix(".png") if args.json is not None else None)
    if plotter is not None and plot is not None:
        plotter(report, Path(plot))
        report["plot"] = str(plot)
    return report


def cmd_batch(args, app) -> int:
    import time

    from .batch import run_batch
    from .context import make_context

    if not app.offers("batch"):
        print(f"error: the '{app.id}' app has no batch form; use `studio run` per file.", file=sys.stderr)
        return 2
    if not args.ray and (args.address or args.workers or args.gpus_per_worker):
        raise InputError("--address, --workers and --gpus-per-worker go with --ray.")
    start, ran = time.perf_counter(), [0]

    def progress(done: int, total: int, entry: dict) -> None:
        status = entry.get("error") or entry.get("output")
        ran[0] += 1  # rows run by this command (a resumed batch counts its earlier rows in `done`)
        rate = ran[0] / max(time.perf_counter() - start, 1e-6)
        print(f"[{done}/{total}] {status}  ({rate:.2f} rows/s)", file=sys.stderr, flush=True)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    values = {p.name: getattr(args, p.name) for p in app.params if getattr(args, p.name) is not None}
    if args.ray:
        from .scale.ray_batch import run_ray_batch

        summary = run_ray_batch(app, args.out, values, progress, manifest=args.manifest, resume=args.resume,
                                address=args.address, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                                device=args.device, on_start=say)  # fmt: skip
    else:
        summary = run_batch(app, make_context(args.device), args.out, values, progress, manifest=args.manifest,
                            resume=args.resume)  # fmt: skip
    if summary["skipped"]:
        say(f"{summary['skipped']} rows were already done ({args.out / summary['report']}) and were skipped.")
    shown = summary if summary["rows"] <= 100 else {**summary, "results": f"see {args.out / 'summary.json'}"}
    print(json.dumps(shown, indent=2))
    return 0 if summary.get("done") else 2


def cmd_serve_ray(args) -> int:
    from studio.apps import get_app

    from .scale.serve import serve_app

    return serve_app(get_app(args.app), address=args.address, host=args.host, port=args.port, device=args.device,
                     replicas=args.replicas, gpus_per_replica=args.gpus_per_replica,
                     max_batch_size=args.max_batch_size, batch_wait_s=args.batch_wait_ms / 1000)  # fmt: skip


def cmd_compare(args, app) -> int:
    from .compare import compare_folder

    values = {p.name: getattr(args, p.name) for p in app.params
              if p.name not in ("tier", "seed", app.primary_input)}  # fmt: skip
    report = compare_folder(app, _context(args, app.id), args.inputs, args.out, values, seed=args.seed or 0,
                            include_lite=args.lite)  # fmt: skip
    print(json.dumps({k: v for k, v in report.items() if k != "inputs"}, indent=2))
    return 0 if report["inputs"] else 2


def cmd_fetch(args) -> int:
    from .engine.fetch import run_fetch
    from .settings import Settings

    return run_fetch(args.target, Settings.from_env(), dry_run=args.dry_run,
                     include_noncommercial=args.include_noncommercial, update=args.update)  # fmt: skip


def cmd_info(args) -> int:
    from .outputs import cmd_info as info

    return info(args.image, as_json=args.json)


def cmd_api(args) -> int:
    from studio.apps import get_app

    from .ui.api import describe

    print(describe(get_app(args.app), url=args.url))
    return 0


def cmd_space(args) -> int:
    from .ui.spaces import export_space

    plan = export_space(args.app, args.out, include_noncommercial=args.include_noncommercial,
                        extra_models=tuple(args.model or ()), hardware=args.hardware)  # fmt: skip
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Space for '{plan.app_id}' written to {args.out}: README.md, app.py, requirements.txt, studio/. "
          f"Models: {', '.join(plan.models) or 'none (lite tier only)'}; hardware {plan.hardware}.")  # fmt: skip
    return 0


def cmd_serve(args) -> int:
    from .serve import serve

    return serve(app_id=args.app, host=args.host, port=args.port, share=args.share, device=args.device)


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="studio", description="Distill Studio command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the apps").set_defaults(func=cmd_list)

    pre = sub.add_parser("preprocess", help="write landmark/mask/pose overlays and a JSON summary for a photo")
    pre.add_argument("image", help="photo to analyse")
    pre.add_argument("--out", type=Path, required=True, help="folder for the PNGs and summary.json")
    pre.add_argument("--max-faces", type=int, default=4, help="faces beyond this many are ignored, largest first "
                     "(default 4)")  # fmt: skip
    pre.add_argument("--clothing", choices=("upper", "lower", "dress"), default="upper",
                     help="which garment area to outline (default upper)")  # fmt: skip
    pre.add_argument("--controls", action=argparse.BooleanOptionalAction, default=True,
                     help="also render control images (Canny, MediaPipe face)")  # fmt: skip
    pre.add_argument("--device", default=None, help=DEVICE_HELP)
    pre.set_defaults(func=cmd_preprocess)

    run = sub.add_parser("run", help="run an app on files: studio run APP --help lists its flags")
    run.add_argument("app", help="app id (see `studio list`)")
    batch = sub.add_parser("batch", help="run an app over folders of images (its image flags take folders)")
    batch.add_argument("app", help="app id (see `studio list`)")
    batch.add_argument("--out", type=Path, required=True, help="folder for the results and summary.json")
    batch.add_argument("--device", default=None, help=DEVICE_HELP)
    batch.add_argument("--manifest", type=Path, default=None,
                       help="CSV (header row) or JSON-lines file of rows, one set of the app's parameters each; "
                            "images relative to it; flags fill in what a row leaves out")  # fmt: skip
    batch.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                       help="skip rows that --out's report.jsonl lists as done with the same parameters (default)")
    batch.add_argument("--ray", action="store_true",
                       help="run the rows on Ray (pip install -e '.[scale]'): a local instance, or --address")
    batch.add_argument("--address", default=None, help="with --ray: the cluster to use (ray://HOST:10001, or auto)")
    batch.add_argument("--workers", type=int, default=None,
                       help="with --ray: actors to run (default: one per CPU, or GPUs / --gpus-per-worker)")
    batch.add_argument("--gpus-per-worker", type=float, default=0.0,
                       help="with --ray: GPUs per actor (fractions pack several actors onto one GPU)")
    compare = sub.add_parser("compare", help="student vs teacher on a folder: grid image + report.json")
    compare.add_argument("app", help="app id (see `studio list`)")
    compare.add_argument("--inputs", type=Path, required=True, help="folder of images for the app's first image input")
    compare.add_argument("--out", type=Path, required=True, help="folder for grid.png and report.json")
    compare.add_argument("--lite", action="store_true", help="also run the lite tier")
    apps_parsers = {}
    # Only build the app's flags when its id is on the command line: importing every app costs time.
    if len(argv) >= 2 and argv[0] in ("run", "batch", "compare") and not argv[1].startswith("-"):
        from studio.apps import get_app

        app = get_app(argv[1])
        target = {"run": run, "batch": batch, "compare": compare}[argv[0]]
        _add_param_flags(target, app, skip_images=argv[0] == "compare", several=argv[0] == "batch")
        apps_parsers["app"] = app
    compare.add_argument("--device", default=None, help=DEVICE_HELP)
    for p in (run, compare):  # another student for the app (a catalog alternative or one `studio distill` made)
        p.add_argument("--student", default=None, metavar="ID", help="run this student instead of the recipe's "
                       "(a catalog id or one `studio distill` made; it brings its own teacher)")  # fmt: skip
        p.add_argument("--tiny", action="store_true", help="on the tiny hub's random-weight models (CPU; noise)")
    run.add_argument("--out", type=Path, default=None, help="where to write the result image (PNG)")
    run.add_argument("--extras", type=Path, default=None, help="folder for the detail images and summary.json")
    run.add_argument("--device", default=None, help=DEVICE_HELP)

    bench = sub.add_parser("bench", help="measure speed; writes JSON, a markdown table and a PNG plot")
    bench.add_argument("target", help="'preprocess' (face and body analysis) or an app id")
    bench.add_argument("--tier", choices=("lite", "student", "teacher", "auto"), default="lite",
                       help="the tier to time (default lite; the diffusion tiers need weights, --tiny or "
                            "--random-weights)")  # fmt: skip
    bench.add_argument("--tiny", action="store_true", help="the diffusion tiers on tiny random models (CPU)")
    bench.add_argument("--random-weights", action="store_true",
                       help="full-size architectures with random weights: honest speed, no quality")
    bench.add_argument("--compile", action="store_true", help="with --random-weights: also time torch.compile")
    bench.add_argument("--repeats", type=int, default=None,
                       help="timed runs per tier (diffusion benchmarks; default 11 with --tiny, 5 with --random-weights)")
    bench.add_argument("--device", default=None, help=DEVICE_HELP)
    bench.add_argument("--image", default=None, help="photo to use (default: a built-in public-domain sample)")
    bench.add_argument("--frames", type=int, default=100, help="frames the lite benchmark times (default 100)")
    bench.add_argument("--json", type=Path, default=None, help="write the report here")
    bench.add_argument("--plot", type=Path, default=None, help="write a PNG plot here (default: next to --json)")
    bench.add_argument("--live", action="store_true",
                       help="with --tiny: the student live path (webcam frames through a 1-2 step student): FPS and "
                            "dropped frames")  # fmt: skip
    bench.add_argument("--seconds", type=float, default=10.0, help="with --live: how long the simulated webcam runs")
    bench.set_defaults(func=cmd_bench)

    plan = sub.add_parser("plan", help="predict an app's peak GPU memory and the memory mode it needs (JSON; loads "
                                       "nothing)")  # fmt: skip
    plan.add_argument("app", help="an app with a diffusion recipe (makeup, tryon, avatar, style, head)")
    plan.add_argument("--vram", type=float, nargs="+", default=None, metavar="GB",
                      help="plan for a GPU with this many GB (several: one plan each, with a summary); default: "
                           "this machine's device")  # fmt: skip
    plan.add_argument("--resolution", type=int, default=None, help="image side in px (default: the recipe's own)")
    plan.add_argument("--device", default=None, help=DEVICE_HELP)
    plan.set_defaults(func=cmd_plan)

    fetch = sub.add_parser("fetch", help="download the weights an app (or one catalog model) needs")
    fetch.add_argument("target", help="an app id (makeup, tryon, avatar, style, head) or a catalog model id")
    fetch.add_argument("--dry-run", action="store_true", help="list files, sizes and licences; download nothing")
    fetch.add_argument("--include-noncommercial", action="store_true",
                       help="allow non-commercial models (DMD2, SDXL-Turbo)")
    fetch.add_argument("--update", action="store_true",
                       help="take the commit each repo's branch points at now and rewrite the lock "
                            "(models/catalog.lock.json); without it, fetches stay at the locked commits")
    fetch.set_defaults(func=cmd_fetch)

    serve = sub.add_parser("serve", help="start the Gradio UI (same as python launch.py)")
    serve.add_argument("app", nargs="?", default=None, help="serve only this app (default: every app, one tab each)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                       "only; 0.0.0.0 for the network)")  # fmt: skip
    serve.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    serve.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    serve.add_argument("--device", default=None, help=DEVICE_HELP)
    serve.set_defaults(func=cmd_serve)

    ray_serve = sub.add_parser("serve-ray", help="serve an app's endpoint on Ray Serve, with request batching")
    ray_serve.add_argument("app", help="app id (see `studio list`)")
    ray_serve.add_argument("--address", default=None, help="the Ray cluster (default: a local instance)")
    ray_serve.add_argument("--host", default="127.0.0.1", help="address the HTTP proxy listens on (default 127.0.0.1)")
    ray_serve.add_argument("--port", type=int, default=8000, help="port the HTTP proxy listens on (default 8000)")
    ray_serve.add_argument("--replicas", type=int, default=1, help="copies of the app serving requests (default 1)")
    ray_serve.add_argument("--gpus-per-replica", type=float, default=0.0,
                           help="GPUs each replica reserves (fractions share one GPU; default 0: CPU)")  # fmt: skip
    ray_serve.add_argument("--max-batch-size", type=int, default=4, help="requests a replica runs as one batch")
    ray_serve.add_argument("--batch-wait-ms", type=float, default=50,
                           help="how long a replica waits for a batch to fill")  # fmt: skip
    ray_serve.add_argument("--device", default=None, help=DEVICE_HELP)
    ray_serve.set_defaults(func=cmd_serve_ray)

    api = sub.add_parser("api", help="list an app's gradio_client endpoints with parameter names and defaults")
    api.add_argument("app", help="app id (see `studio list`)")
    api.add_argument("--url", default="http://127.0.0.1:7860/", help="server URL shown in the example")
    api.set_defaults(func=cmd_api)

    space = sub.add_parser("space", help="write a ready Hugging Face Space for an app (README, app.py, requirements)")
    space.add_argument("app", help="app id (see `studio list`)")
    space.add_argument("--out", type=Path, required=True, help="folder to write the Space into")
    space.add_argument("--model", action="append", metavar="ID",
                       help="also preload this catalog model (e.g. another student); repeatable")
    space.add_argument("--include-noncommercial", action="store_true",
                       help="keep non-commercial models in the Space (left out with a warning otherwise)")
    space.add_argument("--hardware", default=None, help="suggested_hardware (default: from the recipe's family)")
    space.set_defaults(func=cmd_space)

    info = sub.add_parser("info", help="print the settings and provenance a result PNG from the UI's outputs folder "
                                       "carries")  # fmt: skip
    info.add_argument("image", help="a PNG the studio saved (outputs/<date>/…png)")
    info.add_argument("--json", action="store_true", help="print the whole record as JSON")
    info.set_defaults(func=cmd_info)

    from .distill.command import add_parser as add_distill_parser

    add_distill_parser(sub)
    return parser, apps_parsers


def main(argv: list[str] | None = None) -> int:
    from .errors import StudioError

    if argv is None:  # a real command line (not a test calling main() in-process)
        from .native_logs import filter_native_stderr

        filter_native_stderr()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, found = build_parser(argv)
    except StudioError as exc:  # e.g. `studio run NAME` with an unknown app
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(argv)
    try:
        if args.command in ("run", "batch", "compare") and "app" not in found:
            parser.error(f"{args.command}: name an app first, e.g. `studio {args.command} makeup --help`")
        if args.command == "run":
            return cmd_run(args, found["app"])
        if args.command == "compare":
            return cmd_compare(args, found["app"])
        if args.command == "batch":
            return cmd_batch(args, found["app"])
        return args.func(args)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())

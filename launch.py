"""Serve the studio: every registered app as a tab of one Gradio server, or a single app.

    python launch.py                 # the whole studio on http://127.0.0.1:7860
    python launch.py preprocess      # one app
    python launch.py --host 0.0.0.0 --port 8080 --device cuda

No diffusion model is loaded at start-up: weights load on the first run that needs them. A public server's limits
come from STUDIO_MAX_UPLOAD_MB, STUDIO_QUEUE_SIZE and STUDIO_DELETE_AFTER_MIN (see studio/serve.py).
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Distill Studio: serve the apps in a local Gradio UI.")
    parser.add_argument("app", nargs="?", help="serve only this app (see `studio list`); default: all apps")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from studio.native_logs import filter_native_stderr
    from studio.serve import serve

    filter_native_stderr()
    return serve(app_id=args.app, host=args.host, port=args.port, share=args.share, device=args.device)


if __name__ == "__main__":
    sys.exit(main())

"""`studio serve-ray <app>`: the app's run endpoint as a Ray Serve deployment, with request batching.

    POST /<app>   JSON {"source": "<base64 image>", "preset": "berry", ...}    (a data: URL is fine for an image)
                  or multipart/form-data with the images as files and the other parameters as fields
      → 200 {"image": "<base64 PNG>", "summary": {provenance, metrics, info}, "badge": "lite · cpu · 80 ms"}
      → 400 {"error": ...} for input the app cannot use (no face, not an image, a value out of range),
        413 for an upload over STUDIO_MAX_UPLOAD_MB, 503 when the tier's weights are missing, 500 otherwise
    GET  /<app>   the parameters: names, kinds, defaults, limits (what `studio api <app>` lists)

The parameters, defaults and error messages are the Gradio endpoint's `/<app>`: both validate through the app's
schema and run `app(ctx, **values)`. Each replica builds its `RunContext` once (models stay loaded between
requests); `@serve.batch` gathers concurrent requests into groups that the replica runs back to back on those
resident models, off the event loop. For a config file: `serve run studio.scale.serve:app_builder app=makeup`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
import time

from ..errors import InputError, ModelUnavailable, StudioError
from . import ray_session

log = logging.getLogger(__name__)


def run_call(app, ctx, values: dict) -> tuple[int, dict]:
    """One request: (HTTP status, JSON body). Images in `values` are bytes, arrays or paths."""
    try:
        result = app(ctx, **values)
    except InputError as exc:
        return 400, {"error": str(exc)}
    except ModelUnavailable as exc:
        return 503, {"error": str(exc)}
    except StudioError as exc:
        return 500, {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 -- one request's failure is its answer, not the replica's end
        log.exception("studio serve-ray: %s failed", app.id)
        return 500, {"error": f"Unexpected {type(exc).__name__}: {exc}"}
    body = {"summary": result.summary(), "badge": result.provenance.badge(), "image": None}
    if result.image is not None:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(result.image).save(buffer, format="PNG")
        body["image"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    return 200, body


def describe_params(app) -> dict:
    """GET /<app>: the run endpoint's parameters, from the same table `studio api` prints."""
    from dataclasses import asdict

    from ..ui.api import endpoints

    first = endpoints(app)[0]
    return {"app": app.id, "title": app.title, "summary": first.summary, "params": [asdict(p) for p in first.params],
            "returns": ["image (base64 PNG)", "summary", "badge"]}


def decode_image(name: str, value) -> bytes:
    """A JSON image value: base64, optionally as a data: URL."""
    if not isinstance(value, str):
        raise InputError(f"'{name}' must be an image as a base64 string (or a data: URL).")
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"'{name}' is not valid base64; send the image file's bytes base64-encoded.") from None


async def parse_request(app, request, max_bytes: int) -> dict:
    """The app's parameters from a Starlette request: JSON (base64 images) or a multipart form (image files)."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > max_bytes:
        raise _TooLarge(f"The request is {int(size) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB "
                        "(STUDIO_MAX_UPLOAD_MB).")  # fmt: skip
    images = set(app.image_params)
    kind = request.headers.get("content-type", "")
    if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        values = {}
        for key, item in form.multi_items():
            values[key] = await item.read() if hasattr(item, "read") else item
        return values
    try:
        values = await request.json()
    except ValueError:
        raise InputError("Send a JSON object of parameters (images base64-encoded) or a multipart form.") from None
    if not isinstance(values, dict):
        raise InputError("Send a JSON object of parameters, e.g. {\"preset\": \"berry\", ...}.")
    return {k: decode_image(k, v) if k in images and v is not None else v for k, v in values.items()}


class _TooLarge(InputError):
    pass


class AppServer:
    """One Serve replica of an app. `build` adds the `@serve.batch` method, `run_batch(values) -> (status, body)`,
    whose batch settings come from the command line."""

    def __init__(self, app, device: str | None = None):
        from ..context import make_context
        from ..native_logs import filter_native_stderr
        from ..serve import ServerLimits

        filter_native_stderr()
        self.app, self.ctx = app, make_context(device)
        self.max_bytes = int(ServerLimits.from_env().max_upload_mb * 1e6)

    def run_calls(self, calls: list[dict]) -> list[tuple[int, dict]]:
        return [run_call(self.app, self.ctx, values) for values in calls]

    async def __call__(self, request):
        from starlette.responses import JSONResponse

        if request.method == "GET":
            return JSONResponse(describe_params(self.app))
        try:
            values = await parse_request(self.app, request, self.max_bytes)
        except _TooLarge as exc:
            return JSONResponse({"error": str(exc)}, status_code=413)
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        status, body = await self.run_batch(values)
        return JSONResponse(body, status_code=status)


def build(app, device: str | None = None, replicas: int = 1, gpus_per_replica: float = 0.0, max_batch_size: int = 4,
          batch_wait_s: float = 0.05):  # fmt: skip
    """The Serve application for `app` (bind it with `serve.run(build(app), route_prefix="/makeup")`)."""
    from ray import serve

    class Replica(AppServer):
        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_s)
        async def run_batch(self, calls: list[dict]) -> list[tuple[int, dict]]:
            return await asyncio.to_thread(self.run_calls, calls)  # the event loop keeps taking requests

    options = {"num_cpus": 1, **({"num_gpus": gpus_per_replica} if gpus_per_replica else {})}
    deployment = serve.deployment(name=f"studio-{app.id}", num_replicas=replicas, ray_actor_options=options,
                                  max_ongoing_requests=max(8, 2 * max_batch_size))(Replica)  # fmt: skip
    return deployment.bind(app, device)


def app_builder(args: dict):
    """For Serve config files and `serve run studio.scale.serve:app_builder app=makeup [replicas=2 …]`."""
    from studio.apps import get_app

    return build(get_app(args["app"]), device=args.get("device"), replicas=int(args.get("replicas", 1)),
                 gpus_per_replica=float(args.get("gpus_per_replica", 0)),
                 max_batch_size=int(args.get("max_batch_size", 4)),
                 batch_wait_s=float(args.get("batch_wait_s", 0.05)))  # fmt: skip


def serve_app(app, *, address: str | None = None, host: str = "127.0.0.1", port: int = 8000, device: str | None = None,
              replicas: int = 1, gpus_per_replica: float = 0.0, max_batch_size: int = 4, batch_wait_s: float = 0.05,
              announce=print) -> int:  # fmt: skip
    """`studio serve-ray`: deploy `app` on Ray Serve at http://host:port/<app> and serve until Ctrl-C."""
    with ray_session(address) as ray:
        from ray import serve

        serve.start(http_options={"host": host, "port": port})
        try:
            serve.run(build(app, device, replicas, gpus_per_replica, max_batch_size, batch_wait_s), name=app.id,
                      route_prefix=f"/{app.id}")  # fmt: skip
            first = app.primary_input
            announce(f"Serving '{app.id}' on Ray Serve ({ray.cluster_resources().get('CPU', 0):g} CPUs, "
                     f"{replicas} replica{'s' if replicas != 1 else ''}, batches of up to {max_batch_size}) at "
                     f"http://{host}:{port}/{app.id}\n  parameters: curl http://{host}:{port}/{app.id}\n"
                     f"  a call:     curl -F {first}=@photo.jpg http://{host}:{port}/{app.id}\n"
                     "Ctrl-C stops it.")  # fmt: skip
            _stop_on_sigterm()
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
        finally:
            serve.shutdown()


def _stop_on_sigterm() -> None:
    """SIGTERM (docker stop, systemd, kill) stops the server as Ctrl-C does: Serve and a local Ray shut down cleanly."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)

"""Start the Gradio server for the studio or one app (used by launch.py, `studio serve`, Spaces and the tests).

The limits a public demo needs come from the environment (`ServerLimits.from_env`), each with one `error:` line
when its value is unusable:

| variable | default | what it does |
|---|---|---|
| `STUDIO_MAX_UPLOAD_MB` | 50 | largest upload accepted (Gradio refuses bigger files before they reach an app) |
| `STUDIO_QUEUE_SIZE` | 32 | requests that may wait; one more gets "The studio is busy … retry" |
| `STUDIO_DELETE_AFTER_MIN` | 60 | uploads and results are deleted this many minutes after they were written (0: kept until the server stops) |

Uploads and results live in a folder only this user can read: `GRADIO_TEMP_DIR` when set, else a private
`distill-studio-<uid>` folder under the system temp folder.

Final results are also *kept* (PNG with settings and provenance, `studio info FILE`) in `outputs/` when the server
listens on this computer only; `STUDIO_OUTPUTS` names another folder (kept there even when shared) or `off`. A
shared server (`--host` other than 127.0.0.1, or `--share`) keeps nothing by default, shows no History tab and does
not download models from its Models tab (studio/outputs.py).
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .context import RunContext, make_context
from .errors import InputError, StudioError
from .outputs import is_shared, outputs_folder


@dataclass(frozen=True)
class ServerLimits:
    max_upload_mb: float = 50
    queue_size: int = 32
    delete_after_min: float = 60
    #: An upload Gradio is still receiving lives in the upload folder as a top-level `tmp*` file; one that has not
    #: grown for this long was aborted (the client went away mid-upload) and is deleted.
    stale_upload_s: float = 300

    @classmethod
    def from_env(cls, env: dict | None = None) -> "ServerLimits":
        env = os.environ if env is None else env
        return cls(max_upload_mb=_number(env, "STUDIO_MAX_UPLOAD_MB", cls.max_upload_mb, minimum=0.001),
                   queue_size=int(_number(env, "STUDIO_QUEUE_SIZE", cls.queue_size, minimum=1, integer=True)),
                   delete_after_min=_number(env, "STUDIO_DELETE_AFTER_MIN", cls.delete_after_min, minimum=0))  # fmt: skip

    @property
    def delete_cache(self) -> tuple[int, int] | None:
        """Gradio's `delete_cache=(every, age)` in seconds: checked every minute or so, files older than the age."""
        if not self.delete_after_min:
            return None
        age = max(1, round(self.delete_after_min * 60))
        return (min(60, age), age)


def _number(env, name: str, default: float, minimum: float, integer: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise InputError(f"{name}={raw!r} is not {kind}; unset it or use e.g. {name}={default:g}.") from None
    if value < minimum or value != value:
        raise InputError(f"{name}={raw!r} must be at least {minimum:g}; unset it or use e.g. {name}={default:g}.")
    return value


def private_temp_dir() -> Path:
    """The folder for uploads and results, readable by this user only; sets GRADIO_TEMP_DIR so Gradio uses it.

    A folder that exists but belongs to another user is refused (someone could read, or swap, our files)."""
    given = os.environ.get("GRADIO_TEMP_DIR")
    uid = os.getuid() if hasattr(os, "getuid") else None
    own = f"distill-studio-{uid if uid is not None else 'user'}"
    path = Path(given) if given else Path(tempfile.gettempdir()) / own
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode) or (uid is not None and info.st_uid != uid):
            raise InputError(f"The upload folder {path} belongs to another user or is a link; set GRADIO_TEMP_DIR "
                             "to a folder of your own.")  # fmt: skip
        if uid is not None and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(0o700)
    except OSError as exc:
        raise InputError(f"The upload folder {path} cannot be used ({exc.strerror}); set GRADIO_TEMP_DIR to a "
                         "writable folder.") from None  # fmt: skip
    os.environ["GRADIO_TEMP_DIR"] = str(path)
    return path


def build_blocks(app_id: str | None, ctx: RunContext, limits: ServerLimits | None = None, gpu=None,
                 outputs: Path | None = None, shared: bool = False):  # fmt: skip
    """The whole studio (every app a tab) or a single app's page. Final results are kept in `outputs` (None: not
    kept); a `shared` server (other people can reach it) shows no History and lists models without downloading."""
    from studio.apps import all_apps, get_app

    from .ui.gradio_app import build_page, build_studio

    limits = limits or ServerLimits.from_env()
    private_temp_dir()
    if app_id:
        return build_page(get_app(app_id), ctx, gpu=gpu, outputs=outputs, delete_cache=limits.delete_cache)
    return build_studio(all_apps(), ctx, gpu=gpu, outputs=outputs, history=not shared, downloads=not shared,
                        delete_cache=limits.delete_cache)  # fmt: skip


BUSY = ("The studio is busy: {waiting} requests are already waiting (the queue holds {size}). Retry in a minute.")


def launch(blocks, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False, block: bool = True,
           limits: ServerLimits | None = None):  # fmt: skip
    """Queue and launch `blocks`; with `block=False` return Gradio's (app, local_url, share_url)."""
    from .ui.gradio_app import CSS, start_upload_sweeper

    limits = limits or ServerLimits.from_env()
    blocks.queue(default_concurrency_limit=2, max_size=limits.queue_size)
    _explain_full_queue(blocks)
    start_upload_sweeper(blocks, limits.stale_upload_s)
    return blocks.launch(server_name=host, server_port=port, share=share, css=CSS, show_error=True,
                         prevent_thread_lock=not block, footer_links=["api", "gradio", "settings"],
                         max_file_size=int(limits.max_upload_mb * 1024 * 1024))  # fmt: skip


def _explain_full_queue(blocks) -> None:
    """Gradio answers a full queue with "Queue is full. Max size is N and size is N."; say what to do instead (the
    page shows this text; `gradio_client` raises its own QueueError, "Queue is full! Please try again.")."""
    queue = getattr(blocks, "_queue", None)
    push = getattr(queue, "push", None)
    if push is None or getattr(push, "_studio", False):
        return

    async def explained(*args, **kwargs):
        ok, detail, state = await push(*args, **kwargs)
        if state == "queue_full":
            detail = BUSY.format(waiting=len(queue), size=queue.max_size)
        return ok, detail, state

    explained._studio = True
    queue.push = explained


def check_port(host: str, port: int) -> None:
    """Fail in one line, before anything loads, when the studio could not listen on `host:port`: a port outside
    1–65535, one another program holds, or a host name this machine cannot bind."""
    import socket

    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a port: use a number from 1 to 65535 (default 7860).")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"--host {host!r} is not an address of this machine ({exc.strerror}). Use 127.0.0.1 "
                         "(this computer only) or 0.0.0.0 (every network interface).") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name != "nt":  # as the server itself binds: a port left in TIME_WAIT by a closed studio is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            raise InputError(f"Port {port} needs administrator rights on this system: use a port above 1023, "
                             "e.g. --port 7860.") from None
        except OSError as exc:
            reason = "is already in use (another studio or program)" if exc.errno in (98, 48, 10048) else \
                f"cannot be opened ({exc.strerror})"
            raise InputError(f"Port {port} on {host} {reason}. Stop that program or choose another port, e.g. "
                             f"--port {port + 1 if port < 65535 else 7861}.") from None


def serve(app_id: str | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          device: str | None = None) -> int:  # fmt: skip
    """Entry point of `python launch.py` and `studio serve`: returns a process exit code."""
    try:
        check_port(host, port)
        limits = ServerLimits.from_env()
        ctx = make_context(device)
        shared = is_shared(host, share)
        outputs = outputs_folder(ctx.settings, shared)
        blocks = build_blocks(app_id, ctx, limits, outputs=outputs, shared=shared)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        launch(blocks, host=host, port=port, share=share, block=False, limits=limits)
    except OSError as exc:  # taken between the check and the launch, or a host this machine does not have
        print(f"error: cannot serve on {host}:{port}: {exc}. Choose another --port or --host.", file=sys.stderr)
        return 2
    print(f"Results are kept in {outputs.resolve()} (STUDIO_OUTPUTS=off keeps none)." if outputs is not None else
          "Results are not kept (a shared server, or STUDIO_OUTPUTS=off); set STUDIO_OUTPUTS to a folder to keep "
          "them.", file=sys.stderr)  # fmt: skip
    # The page is up; load the detectors while the user picks a photo.
    threading.Thread(target=ctx.preprocess.warm_up, name="warm-up", daemon=True).start()
    blocks.block_thread()
    return 0

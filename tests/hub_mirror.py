"""A local Hugging Face Hub mirror over HTTP, serving the repos of a HF cache (the tiny hub), for download tests.

`huggingface_hub` talks to it as to any `HF_ENDPOINT` mirror. It answers just the calls `studio fetch` makes:

  GET  /api/models/{repo}/revision/{rev}        model_info: {"id", "sha", "siblings": [{"rfilename"}]}
  POST /api/models/{repo}/paths-info/{rev}      get_paths_info: [{"type": "file", "path", "size", "oid"}]
  HEAD /{repo}/resolve/{rev}/{path}             hf_hub_download's metadata: X-Repo-Commit, ETag/X-Linked-Etag,
                                                Content-Length (no Xet headers, so the plain HTTP download runs)
  GET  /{repo}/resolve/{rev}/{path}             the bytes (a `Range: bytes=N-` resumes)

`rev` is a branch ("main", read from the cache's refs/) or the commit itself. Unknown repos and files answer 404
with the `X-Error-Code` header the Hub sends (RepoNotFound, RevisionNotFound, EntryNotFound).

`point_hub_at(url, monkeypatch)` points an already imported huggingface_hub at it (it reads HF_ENDPOINT and
HF_HUB_OFFLINE into `huggingface_hub.constants` at import).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote


class Mirror:
    def __init__(self, cache_dir: Path, repos: set[str] | None = None):
        self.cache_dir = Path(cache_dir)
        self.repos = repos  # None: every repo in the cache
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------------------------------ the data
    def _repo_root(self, repo: str) -> Path | None:
        if self.repos is not None and repo not in self.repos:
            return None
        root = self.cache_dir / f"models--{repo.replace('/', '--')}"
        return root if root.is_dir() else None

    def commit(self, repo: str, rev: str) -> str | None:
        root = self._repo_root(repo)
        if root is None:
            return None
        ref = root / "refs" / rev
        if ref.is_file():
            return ref.read_text().strip()
        return rev if (root / "snapshots" / rev).is_dir() else None

    def files(self, repo: str, commit: str) -> dict[str, Path]:
        snap = self._repo_root(repo) / "snapshots" / commit
        return {p.relative_to(snap).as_posix(): p for p in sorted(snap.rglob("*")) if p.is_file()}

    # ------------------------------------------------------------------------------------------ the server
    def start(self) -> str:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                mirror._serve(self, body=False)

            def do_GET(self):
                mirror._serve(self, body=True)

            def do_POST(self):
                mirror._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="hub-mirror", daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _reply(self, h, status: int, headers: dict, data: bytes = b"", body: bool = True) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, str(v))
        if "Content-Length" not in headers:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body and data:
            h.wfile.write(data)

    def _error(self, h, code: str, commit: str | None = None, body: bool = True) -> None:
        headers = {"X-Error-Code": code, "Content-Type": "application/json"}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._reply(h, 404, headers, json.dumps({"error": code}).encode(), body)

    def _serve(self, h, body: bool) -> None:
        path = unquote(h.path.split("?", 1)[0])
        self.requests.append((h.command, path))
        length = int(h.headers.get("Content-Length") or 0)
        form = h.rfile.read(length).decode() if length else ""
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(revision|paths-info)/([^/]+)", path)
        if api:
            repo, what, rev = api.groups()
            commit = self.commit(repo, rev)
            if commit is None:
                return self._error(h, "RepoNotFound" if self._repo_root(repo) is None else "RevisionNotFound")
            files = self.files(repo, commit)
            if what == "revision":
                data = {"id": repo, "sha": commit, "siblings": [{"rfilename": f} for f in files]}
            else:
                asked = parse_qs(form).get("paths", [])
                data = [{"type": "file", "path": p, "size": files[p].stat().st_size,
                         "oid": hashlib.sha1(files[p].read_bytes()).hexdigest()}
                        for p in asked if p in files]  # fmt: skip
            return self._reply(h, 200, {"Content-Type": "application/json"}, json.dumps(data).encode())
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if not resolve:
            return self._error(h, "RepoNotFound", body=body)
        repo, rev, file = resolve.groups()
        commit = self.commit(repo, rev)
        if commit is None:
            return self._error(h, "RepoNotFound" if self._repo_root(repo) is None else "RevisionNotFound", body=body)
        local = self.files(repo, commit).get(file)
        if local is None:
            return self._error(h, "EntryNotFound", commit, body=body)
        data = local.read_bytes()
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        headers = {"X-Repo-Commit": commit, "ETag": etag, "X-Linked-Etag": etag, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}  # fmt: skip
        status, start = 200, 0
        ranged = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range") or "")
        if ranged and h.command == "GET":
            start, status = int(ranged.group(1)), 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        chunk = data[start:]
        headers["Content-Length"] = len(data) if h.command == "HEAD" else len(chunk)
        self._reply(h, status, headers, chunk, body=body)

    def downloads(self) -> list[str]:
        """The `resolve` paths fetched with GET (the files that were downloaded)."""
        return [p for m, p in self.requests if m == "GET" and "/resolve/" in p]


def point_hub_at(url: str, monkeypatch) -> None:
    """Make the imported huggingface_hub use `url` as its endpoint and go online (HF_ENDPOINT / HF_HUB_OFFLINE are
    read into its constants at import, so the environment alone is too late)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True, raising=False)

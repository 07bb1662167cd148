"""The weights lock: which commit of each Hub repo this studio fetched, so a changed upstream is never taken silently.

The catalog names repos at a branch (usually `main`), and a branch moves. The first `studio fetch` of a repo records
the commit the branch pointed at in `<models dir>/catalog.lock.json`; later fetches download that same commit and
report when the branch has moved on. `studio fetch --update` takes the new commit deliberately and rewrites the
lock. A catalog revision that is already a full commit hash is its own lock.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

LOCK_NAME = "catalog.lock.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")
#: Weight formats that run code when unpickled; refused where the repo offers safetensors of the same weights.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


@dataclass
class Pin:
    """The commit to download a repo at, and what to tell the user about it."""

    repo: str
    commit: str
    note: str | None = None


class WeightsLock:
    """`catalog.lock.json`: {repo: {"revision": branch, "commit": sha, "fetched": date}}."""

    def __init__(self, models_dir: Path):
        self.path = Path(models_dir) / LOCK_NAME
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def pin(self, repo: str, revision: str, upstream: str | None, update: bool, target: str) -> Pin:
        """The commit to fetch `repo` at. `upstream` is the commit `revision` points at on the Hub now (None when
        the Hub could not say)."""
        if _COMMIT.fullmatch(revision):
            return Pin(repo, revision)
        locked = self.entries.get(repo, {})
        old = locked.get("commit") if locked.get("revision") == revision else None
        if old is None or update:
            if upstream is None:
                raise LookupError(f"the Hub did not say which commit {repo}@{revision} is")
            note = f"{repo}: updated {old[:10]} → {upstream[:10]}." if old and old != upstream else None
            return Pin(repo, upstream, note)
        if upstream is not None and upstream != old:
            return Pin(repo, old, f"{repo} changed upstream since it was locked ({old[:10]} → {upstream[:10]}): the "
                                  f"locked commit was fetched. Review the change, then run `studio fetch {target} "
                                  "--update` to take it.")  # fmt: skip
        return Pin(repo, old)

    def record(self, repo: str, revision: str, commit: str) -> None:
        if _COMMIT.fullmatch(revision):
            return
        self.entries[repo] = {"revision": revision, "commit": commit, "fetched": time.strftime("%Y-%m-%d")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.entries, indent=2, sort_keys=True) + "\n")


def pickle_problem(spec_id: str, wanted: list[str], repo_files: list[str]) -> str | None:
    """Why a catalog entry must not fetch a pickle: the repo has the same weights as safetensors. None when every
    pickle it asks for has no safetensors twin (then the loader reads it with weights_only=True)."""
    present = set(repo_files)
    for path in wanted:
        if path.endswith(PICKLE_SUFFIXES):
            twin = path.rsplit(".", 1)[0] + ".safetensors"
            if twin in present:
                return (f"'{spec_id}' asks for the pickle {path}, but the repo has {twin}: pickles can run code when "
                        "loaded, so the studio refuses them where safetensors exist. Fix models/catalog.py to use "
                        "the safetensors file.")  # fmt: skip
    return None

"""`studio fetch` against a stand-in Hub (this machine cannot reach the real one): commits are locked on first
fetch and kept until `--update`, a moved branch is reported, pickles with safetensors twins are refused, and a
Hub that cannot be reached is named as such (not as an out-of-date catalog)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import huggingface_hub
import pytest

from studio.cli import main
from studio.models import load_catalog

TARGET = "lcm-lora-sd15"  # one LoRA plus the base pipeline it runs on
OLD, NEW = "a" * 40, "b" * 40


class StandInHub:
    """What `HfApi.model_info` and `hf_hub_download` answer: every repo's branch points at `self.head`."""

    def __init__(self, tmp_path, monkeypatch):
        self.head, self.downloads, self.extra_files, self.down = OLD, [], [], False
        self.root = tmp_path / "downloads"
        hub = self

        def model_info(api, repo, revision=None, files_metadata=False):
            if hub.down:
                raise ConnectionError("Failed to resolve 'huggingface.co'")
            spec_files = [f.path for s in load_catalog().specs.values() if s.repo == repo for f in s.files]
            return SimpleNamespace(sha=hub.head, siblings=[SimpleNamespace(rfilename=f)
                                                           for f in spec_files + hub.extra_files])  # fmt: skip

        def download(repo, filename, revision=None, cache_dir=None, **_):
            if hub.down:
                raise huggingface_hub.errors.LocalEntryNotFoundError("Connection error, and no cached file")
            hub.downloads.append((repo, filename, revision))
            path = hub.root / repo / revision / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"weights")
            return str(path)

        monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
        monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    stand_in = StandInHub(tmp_path, monkeypatch)
    stand_in.lock = tmp_path / "models" / "catalog.lock.json"
    return stand_in


def test_first_fetch_locks_each_repo_at_its_commit(hub, capsys):
    assert main(["fetch", TARGET]) == 0
    repos = {repo for repo, _, _ in hub.downloads}
    assert repos and all(rev == OLD for _, _, rev in hub.downloads)
    lock = json.loads(hub.lock.read_text())
    assert set(lock) == repos and all(e["commit"] == OLD and e["revision"] == "main" for e in lock.values())
    assert "commits locked" in capsys.readouterr().out


def test_a_moved_branch_is_reported_and_not_taken_until_update(hub, capsys):
    main(["fetch", TARGET])
    hub.head, hub.downloads = NEW, []
    assert main(["fetch", TARGET]) == 0
    out = capsys.readouterr().out
    assert hub.downloads and all(rev == OLD for _, _, rev in hub.downloads), "the locked commit is fetched"
    assert "changed upstream since it was locked" in out and f"studio fetch {TARGET} --update" in out
    hub.downloads = []
    assert main(["fetch", TARGET, "--update"]) == 0
    assert hub.downloads and all(rev == NEW for _, _, rev in hub.downloads)
    assert all(e["commit"] == NEW for e in json.loads(hub.lock.read_text()).values())


def test_a_pickle_with_a_safetensors_twin_is_refused(hub, capsys, monkeypatch):
    spec = next(s for s in load_catalog().specs.values() if any(f.path.endswith(".bin") for f in s.files))
    pickle = next(f.path for f in spec.files if f.path.endswith(".bin"))
    hub.extra_files = [pickle.rsplit(".", 1)[0] + ".safetensors"]
    monkeypatch.setenv("STUDIO_INCLUDE_NONCOMMERCIAL", "1")
    assert main(["fetch", spec.id]) == 1
    err = capsys.readouterr().err
    assert "refuses them where safetensors exist" in err and pickle in err and not hub.downloads


def test_an_unreachable_hub_is_named_not_blamed_on_the_catalog(hub, capsys):
    hub.down = True
    assert main(["fetch", TARGET]) == 1
    err = capsys.readouterr().err
    assert "cannot be reached" in err and "out of date" not in err

"""Packaging and layering rules from DESIGN §5, checked on the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

from conftest import REPO

ROOTS = {"studio": REPO / "studio", "studio.apps": REPO / "apps", "studio.models": REPO / "models"}


def declared_packages() -> set[str]:
    return set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_installed_under_studio():
    found = set()
    for prefix, root in ROOTS.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            if "__pycache__" in rel.parts or any(part.startswith(".") for part in rel.parts):
                continue
            found.add(".".join([prefix, *rel.parts]) if rel.parts else prefix)
    assert found == declared_packages(), "pyproject's explicit `packages` list is out of date"
    assert all(name == "studio" or name.startswith("studio.") for name in found)


def test_core_and_apps_never_import_gradio_and_core_never_imports_apps():
    for path in [*(REPO / "studio").rglob("*.py"), *(REPO / "apps").rglob("*.py")]:
        if "ui" in path.relative_to(REPO).parts:
            continue  # the Gradio adapter is the one place allowed to import gradio
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(n == "gradio" or n.startswith("gradio.") for n in names), f"{path} imports gradio"
        in_core = path.is_relative_to(REPO / "studio")
        front_end = path.name in ("cli.py", "serve.py")  # front-ends may list and load apps
        if in_core and not front_end:
            assert not any(n.startswith("studio.apps") for n in names), f"core module {path} imports an app"


def test_importing_the_studio_is_free_of_heavy_work():
    code = (
        "import sys, studio, studio.cli, studio.serve, studio.preprocess, studio.schema, studio.apps;"
        "from studio.apps import get_app; get_app('preprocess');"
        "heavy = [m for m in ('torch', 'gradio', 'mediapipe', 'diffusers', 'controlnet_aux', 'insightface', 'dlib')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"heavy modules imported at import time: {out.stdout.strip()}"

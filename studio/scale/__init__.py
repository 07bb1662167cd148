"""Scale-out on Ray: `studio batch <app> --ray` (Ray Data, ray_batch.py) and `studio serve-ray <app>` (Ray Serve,
serve.py). Both run the apps through the same code as a local batch and the Gradio endpoint.

Ray is optional: `pip install -e '.[scale]'`. Nothing here imports it until a command needs it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..errors import StudioError

INSTALL = "pip install -e '.[scale]'  (or: pip install 'ray[data,serve]>=2.60,<2.64' 'pyarrow<26')"
#: Settings the Ray workers take from the driver, so a cluster's actors see the same models and limits.
_FORWARDED_ENV = ("STUDIO_", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
#: A local start is tried this many times: on a busy machine Ray 2.60's raylet gives its dashboard agent a fixed
#: 15 s to report its ports and gives up otherwise ("The current node timed out during startup",
#: ray-project/ray#65983); the next try usually makes it.
_LOCAL_STARTS = 3
#: Every Ray process imports jsonschema, which imports `rfc3987_syntax` when it is installed (Jupyter's extras bring
#: it); that module compiles an Earley grammar at import: 2.3 of 3.5 CPU-seconds of a Ray agent's start here, enough
#: to miss the 15 s above on a loaded 2-core machine. The local instance's processes get a stand-in that declines to
#: import, which jsonschema tolerates (it then skips checking the "iri" string format, which Ray never uses).
_SLOW_IMPORTS = ("rfc3987_syntax",)


class RayUnavailable(StudioError):
    """Ray is not installed, or no cluster could be started or reached."""

    exit_code = 2


def require_ray():
    """The `ray` module, or a `RayUnavailable` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(f"Ray is not installed. Install the scale extra: {INSTALL}") from None
    return ray


def worker_env() -> dict[str, str]:
    """The driver's studio and Hugging Face settings, for the workers' runtime environment."""
    return {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV)}


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None):
    """Ray for the length of a command: the cluster at `address` (e.g. `ray://head:10001`, or `auto` for one started
    with `ray start` on this machine), or a local instance sized to this machine (Ray counts its CPUs and GPUs;
    `num_cpus` caps it) that is shut down afterwards. Inside a process that already runs Ray, that one is used."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    shims = None
    try:
        if address:
            try:
                ray.init(address=address, logging_level=logging.WARNING, runtime_env={"env_vars": worker_env()})
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailable(f"Could not connect to the Ray cluster at '{address}': {exc}") from None
        else:
            shims = _start_local(ray, num_cpus)
        yield ray
    finally:
        ray.shutdown()
        if shims is not None:
            shutil.rmtree(shims, ignore_errors=True)


def _start_local(ray, num_cpus: int | None) -> Path | None:
    """Start a local instance (see `_LOCAL_STARTS`, `_SLOW_IMPORTS`); returns the stand-ins' folder to remove."""
    shims = None
    env = {"RAY_USAGE_STATS_ENABLED": "0",  # an instance of our own: nothing is reported anywhere
           "RAY_enable_worker_prestart": "0"}  # actors start their own workers; idle ones only slow the start
    slow = [name for name in _SLOW_IMPORTS if importlib.util.find_spec(name) is not None]
    if slow:
        shims = Path(tempfile.mkdtemp(prefix="studio-ray-shims-"))
        for name in slow:
            (shims / name).mkdir()
            (shims / name / "__init__.py").write_text(
                f'raise ImportError("{name} is left out of this Ray instance: it is slow to import (studio.scale)")\n')
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shims), os.environ.get("PYTHONPATH")]))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: v for k, v in env.items() if k == "PYTHONPATH" or k not in os.environ})
    try:  # Ray's processes inherit this environment when they are spawned, during init
        for attempt in range(1, _LOCAL_STARTS + 1):
            try:
                ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                         runtime_env={"env_vars": worker_env()})  # fmt: skip
                return shims
            except Exception as exc:  # noqa: BLE001 -- Ray raises a bare Exception for a start that timed out
                ray.shutdown()
                if "timed out during startup" not in str(exc) or attempt == _LOCAL_STARTS:
                    if shims is not None:
                        shutil.rmtree(shims, ignore_errors=True)
                    raise RayUnavailable(f"Could not start a local Ray instance: {exc}") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return shims


def describe_cluster() -> str:
    """'2 CPUs, 0 GPUs on 1 node' for the running Ray instance."""
    ray = require_ray()
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    return f"{cpus:g} CPUs, {gpus:g} GPUs on {nodes} node{'s' if nodes != 1 else ''}"

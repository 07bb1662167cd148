"""Scale-out on Ray: `studio batch <app> --ray` (Ray Data, ray_batch.py) and `studio serve-ray <app>` (Ray Serve,
serve.py). Both run the apps through the same code as a local batch and the Gradio endpoint.

Ray is optional: `pip install -e '.[scale]'`. Nothing here imports it until a command needs it.
"""

from __future__ import annotations

import logging
import os

from ..errors import StudioError

INSTALL = "pip install -e '.[scale]'  (or: pip install 'ray[data,serve]>=2.60,<3' 'pyarrow<26')"
#: Settings the Ray workers take from the driver, so a cluster's actors see the same models and limits.
_FORWARDED_ENV = ("STUDIO_", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")
#: On a busy machine Ray's raylet can give up waiting for its dashboard agent (a fixed 15 s in Ray 2.60,
#: ray-project/ray#65983) and a local start fails with "The current node timed out during startup"; a second start
#: is quicker (the agent's imports are cached), so a local start is tried this many times.
_LOCAL_STARTS = 3


class RayUnavailable(StudioError):
    """Ray is not installed, or no cluster could be reached."""

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


def start_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to the Ray cluster at `address`, or start a local instance sized to this machine (Ray counts its CPUs
    and GPUs; `num_cpus` overrides). Returns True when this call started or connected Ray (the caller then shuts it
    down), False when Ray was already initialised in this process."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": worker_env()}
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING, runtime_env=runtime_env)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailable(f"Could not connect to the Ray cluster at '{address}': {exc}") from None
        return True
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # an instance of our own: nothing is reported anywhere
    for attempt in range(1, _LOCAL_STARTS + 1):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                     runtime_env=runtime_env)  # fmt: skip
            return True
        except Exception as exc:  # noqa: BLE001 -- Ray raises a bare Exception for this
            ray.shutdown()
            if "timed out during startup" not in str(exc) or attempt == _LOCAL_STARTS:
                raise RayUnavailable(f"Could not start a local Ray instance: {exc}") from None
    return True


def describe_cluster() -> str:
    """'2 CPUs, 0 GPUs on 1 node' for the running Ray instance."""
    ray = require_ray()
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    return f"{cpus:g} CPUs, {gpus:g} GPUs on {nodes} node{'s' if nodes != 1 else ''}"

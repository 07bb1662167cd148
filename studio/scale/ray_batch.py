"""`studio batch <app> --ray`: the batch's rows as a Ray Data dataset, run by a pool of actors.

The driver plans the rows exactly as a local batch does (`studio.batch.plan_batch`: folders or a manifest, the app's
up-front check, resume from report.jsonl) and hands them to `studio.batch.run_batch` with a Ray executor. Each actor
receives the app and builds its `RunContext` once — models, face detectors and caches stay loaded for every row it
gets — and runs each row through `studio.batch.run_row`, the function a local batch uses, so the images are the same. Entries
stream back to the driver, which writes report.jsonl as they arrive and prints progress.

On a cluster, the inputs and `--out` must be paths every node can read and write (a shared filesystem): actors read
the photos and write the images themselves, so the driver never carries pixels.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Callable, Iterator

from ..batch import Row, run_batch, run_row
from . import RayUnavailable, describe_cluster, ray_session, require_ray

#: A row per block keeps results streaming back a row at a time; above this many rows, blocks hold several.
MAX_BLOCKS = 10_000
#: A row whose worker process dies (a native crash, the OOM killer) is tried this many more times, then listed as
#: failed; Ray's default for actor pools is to retry forever, which one poisonous file would turn into a hang.
ROW_RETRIES = 2


class RowWorker:
    """A Ray Data actor: one app and one context for its whole life, rows through `run_row`. The `App` arrives
    pickled; its functions by reference, so the actor imports the app's own module."""

    def __init__(self, app, out_dir: str, device: str | None):
        from ..context import make_context
        from ..native_logs import filter_native_stderr

        filter_native_stderr()  # MediaPipe's start-up chatter would be forwarded to the driver's terminal
        self.app = app
        self.ctx = make_context(device)
        self.out_dir = Path(out_dir)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        entries = []
        for text in batch["row"]:
            entry = run_row(self.app, self.ctx, Row.from_json(str(text)), self.out_dir)
            entries.append(json.dumps({**entry, "worker": self.worker}, default=str))
        return {"entry": entries}


class RayExecutor:
    """`execute(rows)` for `run_batch`: the rows through a pool of `RowWorker` actors, entries as they finish."""

    def __init__(self, app, out_dir, device: str | None = None, workers: int | None = None,
                 gpus_per_worker: float = 0.0, on_start: Callable[[str], None] | None = None):  # fmt: skip
        self.app, self.out_dir, self.device = app, str(Path(out_dir).absolute()), device
        self.workers, self.gpus_per_worker, self.on_start = workers, gpus_per_worker, on_start

    def pool_size(self, rows: int) -> int:
        """--workers, else as many actors as the cluster has room for (CPUs, or GPUs / --gpus-per-worker)."""
        ray = require_ray()
        resources = ray.cluster_resources()
        if self.workers:
            size = self.workers
        elif self.gpus_per_worker:
            size = int(resources.get("GPU", 0) // self.gpus_per_worker)
            if size < 1:
                raise RayUnavailable(f"--gpus-per-worker {self.gpus_per_worker:g}, but the Ray cluster has "
                                     f"{resources.get('GPU', 0):g} GPUs.")  # fmt: skip
        else:
            size = max(1, int(resources.get("CPU", 1)))
        return max(1, min(size, rows))

    def __call__(self, rows: list[Row]) -> Iterator[dict]:
        if not rows:
            return
        ray = require_ray()
        import ray.data

        size = self.pool_size(len(rows))
        if self.on_start is not None:
            self.on_start(f"Ray: {describe_cluster()}; {size} worker{'s' if size != 1 else ''} for {len(rows)} rows")
        context, data_log = ray.data.DataContext.get_current(), logging.getLogger("ray.data")
        saved = (context.enable_progress_bars, context.print_on_execution_start, context.max_errored_blocks,
                 data_log.level)  # fmt: skip
        # Our own progress lines instead of Ray's bars and notices; a lost block (a dead worker) becomes a failed
        # row, not a failed job: the rows that never came back are listed by `finish_batch`.
        context.enable_progress_bars, context.print_on_execution_start, context.max_errored_blocks = False, False, -1
        data_log.setLevel(logging.ERROR)
        try:
            dataset = ray.data.from_items([{"row": row.to_json()} for row in rows],
                                          override_num_blocks=min(len(rows), MAX_BLOCKS))  # fmt: skip
            with warnings.catch_warnings():  # max_task_retries has no named parameter yet in Ray 2.60
                warnings.simplefilter("ignore", DeprecationWarning)
                results = dataset.map_batches(
                    RowWorker,
                    fn_constructor_kwargs={"app": self.app, "out_dir": self.out_dir, "device": self.device},
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=size),
                    num_gpus=self.gpus_per_worker or None,
                    max_task_retries=ROW_RETRIES,
                )
            for item in results.iter_rows():
                yield json.loads(item["entry"])
        finally:
            context.enable_progress_bars, context.print_on_execution_start, context.max_errored_blocks = saved[:3]
            data_log.setLevel(saved[3])


def run_ray_batch(app, out_dir, values: dict, progress=None, *, manifest=None, resume: bool = True,
                  address: str | None = None, workers: int | None = None, gpus_per_worker: float = 0.0,
                  device: str | None = None, num_cpus: int | None = None,
                  on_start: Callable[[str], None] | None = None) -> dict:  # fmt: skip
    """`run_batch` on Ray: the cluster at `address`, or a local instance sized to this machine (`num_cpus` caps it).
    The driver checks the shared inputs on the CPU; the actors run the rows on `device`."""
    from ..context import make_context

    with ray_session(address, num_cpus=num_cpus):
        executor = RayExecutor(app, out_dir, device, workers, gpus_per_worker, on_start)
        return run_batch(app, make_context("cpu"), out_dir, values, progress, manifest=manifest, resume=resume,
                         execute=executor)  # fmt: skip

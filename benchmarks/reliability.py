"""The studio under a hostile afternoon: concurrent clients, identical requests, a dropped client, a huge photo.

Starts `launch.py` on a free port (lite tier, no weights needed) and prints, as JSON:

* answers and broken answers (an image that is missing, empty or not decodable) for N concurrent clients with
  different photos and for M clients sending the same photo and preset, with p50/p95 latency;
* seconds from a client dropped mid-run to an idle worker (the next request's queue wait);
* peak RSS of the server over the whole run and for one 49 MP photo, against its idle RSS.

    .venv/bin/python benchmarks/reliability.py --json bench-out/reliability.json
    .venv/bin/python benchmarks/reliability.py --different 20 --identical 12 --big-side 7000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STUDIO_FIXTURES", REPO.parent / "shared" / "fixtures"))
sys.path.insert(0, str(REPO / "benchmarks"))
from startup import free_port  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    for task in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{task}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class PeakWatcher(threading.Thread):
    """Samples the server's RSS every 50 ms; `peak` since the last `reset()`."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def reset(self) -> None:
        self.peak = rss_mb(self.pid)

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)


def photos(folder: Path, count: int) -> list[Path]:
    """`count` distinct photos: the scikit-image portrait shifted and tinted a little each time."""
    import numpy as np
    from PIL import Image
    from skimage import data

    base = data.astronaut()
    out = []
    for i in range(count):
        img = np.roll(base, 3 * i, axis=1).astype(np.int16) + (i % 7)
        path = folder / f"photo_{i:02d}.png"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
        out.append(path)
    return out


def whole(result) -> bool:
    """True when the endpoint's image came back complete and decodable."""
    from PIL import Image

    image = result[0] if isinstance(result, (list, tuple)) else result
    path = image.get("path") if isinstance(image, dict) else image
    try:
        with Image.open(path) as im:
            im.load()
            return im.width > 0 and im.height > 0
    except Exception:  # noqa: BLE001 -- any failure to read the answer is a broken answer
        return False


def storm(url: str, inputs: list[Path], preset: str) -> dict:
    from gradio_client import Client, handle_file

    def one(path: Path):
        client = Client(url, verbose=False)
        start = time.perf_counter()
        try:
            result = client.predict(source=handle_file(str(path)), preset=preset, tier="lite", api_name="/makeup")
            return time.perf_counter() - start, whole(result)
        except Exception:  # noqa: BLE001 -- counted as a broken answer
            return time.perf_counter() - start, False

    with ThreadPoolExecutor(len(inputs)) as pool:
        runs = list(pool.map(one, inputs))
    latencies = sorted(t for t, _ in runs)
    return {"clients": len(inputs), "answers": sum(ok for _, ok in runs), "broken": sum(not ok for _, ok in runs),
            "p50_s": round(statistics.median(latencies), 2),
            "p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2)}  # fmt: skip


def dropped_client(url: str, photo: Path) -> float:
    """Start a run, drop the client mid-run, then time how long the next request waits before it starts."""
    from gradio_client import Client, handle_file

    dropping = Client(url, verbose=False)
    job = dropping.submit(image=handle_file(str(photo)), api_name="/preprocess")
    time.sleep(0.5)
    job.cancel()
    dropped = time.perf_counter()
    follow = Client(url, verbose=False)
    follow.predict(source=handle_file(str(photo)), preset="berry", tier="lite", api_name="/makeup")
    return time.perf_counter() - dropped


def big_photo(folder: Path, side: int, source: Path | None = None) -> Path:
    """A JPEG of `side`² pixels: the scikit-image portrait (square), or `source` scaled to that area."""
    import cv2
    from skimage import data

    image = data.astronaut()[..., ::-1] if source is None else cv2.imread(str(source))
    h, w = image.shape[:2]
    scale = side / (w * h) ** 0.5
    size = (round(w * scale), round(h * scale))
    path = folder / f"big_{side}_{'portrait' if source is None else source.stem}.jpg"
    cv2.imwrite(str(path), cv2.resize(image, size, interpolation=cv2.INTER_CUBIC))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--different", type=int, default=20, help="concurrent clients with different photos")
    parser.add_argument("--identical", type=int, default=12, help="concurrent clients with the same photo")
    parser.add_argument("--big-side", type=int, default=7000, help="side of the square big photo (7000 = 49 MP)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "STUDIO_OUTPUTS": "off"}  # a benchmark must not fill the user's outputs folder
    server = subprocess.Popen([sys.executable, "launch.py", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    report: dict = {"machine": {"cpus": os.cpu_count()}}
    try:
        from gradio_client import Client, handle_file

        for _ in range(600):
            try:
                Client(url, verbose=False)
                break
            except Exception:  # noqa: BLE001 -- not up yet
                time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            inputs = photos(folder, max(args.different, 1))
            Client(url, verbose=False).predict(source=handle_file(str(inputs[0])), preset="berry", tier="lite",
                                               api_name="/makeup")  # warm the detectors  # fmt: skip
            watcher = PeakWatcher(server.pid)
            watcher.start()
            report["idle_rss_mb"] = round(rss_mb(server.pid), 1)
            report["different_inputs"] = storm(url, inputs[: args.different], "berry")
            report["identical_inputs"] = storm(url, [inputs[0]] * args.identical, "classic_red")
            report["disconnect_to_idle_s"] = round(dropped_client(url, inputs[1]), 2)
            report["peak_rss_mb_concurrency"] = round(watcher.peak, 1)
            big = big_photo(folder, args.big_side)
            watcher.reset()
            start = time.perf_counter()
            try:
                Client(url, verbose=False).predict(image=handle_file(str(big)), api_name="/preprocess")
                report["big_photo_ok"] = True
            except Exception as exc:  # noqa: BLE001 -- reported, not fatal
                report["big_photo_ok"] = f"{type(exc).__name__}: {exc}"
            report["big_photo"] = {"megapixels": round(args.big_side**2 / 1e6, 1),
                                   "seconds": round(time.perf_counter() - start, 1),
                                   "peak_rss_mb": round(watcher.peak, 1),
                                   "above_idle_mb": round(watcher.peak - report["idle_rss_mb"], 1)}  # fmt: skip
            person = FIXTURES / "people" / "person_woman_dark_skin_front_tee_01.jpg"
            garment = FIXTURES / "garments" / "garment_polo_shirt_colorblock_01.jpg"
            if person.exists() and garment.exists():  # a full body to dress: the fixture photo, blown up to 49 MP
                big_person = big_photo(folder, args.big_side, person)
                watcher.reset()
                start = time.perf_counter()
                try:
                    Client(url, verbose=False).predict(person=handle_file(str(big_person)),
                                                       garment=handle_file(str(garment)), tier="lite",
                                                       api_name="/tryon")  # fmt: skip
                    ok = True
                except Exception as exc:  # noqa: BLE001 -- reported, not fatal
                    ok = f"{type(exc).__name__}: {exc}"
                report["big_tryon"] = {"ok": ok, "megapixels": round(args.big_side**2 / 1e6, 1),
                                       "seconds": round(time.perf_counter() - start, 1),
                                       "peak_rss_mb": round(watcher.peak, 1),
                                       "above_idle_mb": round(watcher.peak - report["idle_rss_mb"], 1)}  # fmt: skip
            else:
                report["big_tryon"] = f"skipped: no fixture photos at {FIXTURES}"
            watcher.stop.set()
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

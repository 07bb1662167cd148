"""Keep MediaPipe's and TFLite's native start-up chatter out of the user's terminal.

MediaPipe's C++ graphs log "INFO: Created TensorFlow Lite XNNPACK delegate…", "W0000 … inference_feedback_
manager.cc…" and similar lines straight to file descriptor 2 from their own threads; no environment variable
or Python logger silences them. Entry points (the CLI, launch.py) call `filter_native_stderr()` once: fd 2
becomes a pipe read by a small thread that drops those known lines and forwards everything else, while
Python's own `sys.stderr` keeps writing to the real terminal directly, so our messages are never delayed.
"""

from __future__ import annotations

import os
import re
import sys
import threading

_NOISE = re.compile(
    rb"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog"
    rb"|[IW]0000 00:00:\d+\.\d+\s+\d+ \S+\.cc:\d+\])"
)
_installed = False


def filter_native_stderr() -> None:
    global _installed
    if _installed or os.environ.get("STUDIO_NATIVE_LOGS") == "1":  # opt out to debug native code
        return
    try:
        real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return  # no usable fd 2 (e.g. some embedded interpreters): leave logging as it is
    sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding="utf-8", errors="replace")

    def pump():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not _NOISE.match(line))
                if kept:
                    os.write(real, kept)
            if pending and not _NOISE.match(pending):
                os.write(real, pending)

    threading.Thread(target=pump, name="native-stderr-filter", daemon=True).start()
    _installed = True

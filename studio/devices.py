"""Device and dtype choice in one place. torch is imported only when a device is actually resolved."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cuda", "cuda:1", "mps" or "cpu"
    dtype_name: str  # "float16", "bfloat16" or "float32"
    reason: str  # why this device was picked, shown in provenance and `studio info`

    @property
    def dtype(self):
        import torch

        return getattr(torch, self.dtype_name)


def pick_device(requested: str = "auto") -> DeviceChoice:
    """Resolve "auto" (CUDA → MPS → CPU) or validate an explicit device name.

    dtype policy: fp16 on CUDA (bf16 where the card supports it well is opt-in per model), fp16 on MPS,
    fp32 on CPU (half precision on CPU is slow and numerically fragile).
    """
    import torch

    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return DeviceChoice("cuda", "float16", f"CUDA available ({torch.cuda.get_device_name(0)})")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return DeviceChoice("mps", "float16", "Apple MPS available")
        return DeviceChoice("cpu", "float32", "no GPU found; using the CPU")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(
                f"--device {requested} was requested but CUDA is not available on this machine "
                "(use --device cpu, or install a CUDA build of torch)."
            )
        return DeviceChoice(requested, "float16", "requested")
    if requested == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise InputError("--device mps was requested but Apple MPS is not available here (use --device cpu).")
        return DeviceChoice("mps", "float16", "requested")
    if requested == "cpu":
        return DeviceChoice("cpu", "float32", "requested")
    raise InputError(f"Unknown device '{requested}'. Use auto, cpu, cuda, cuda:N or mps.")


def check_device_name(name: str) -> str:
    """Validate a --device value without importing torch (start-up must stay fast)."""
    import re

    name = (name or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", name):
        raise InputError(f"Unknown device '{name}'. Use auto, cpu, cuda, cuda:N or mps.")
    return name


def is_oom(exc: BaseException) -> bool:
    """True for out-of-memory errors on any backend (CUDA, MPS, CPU allocator)."""
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "mps backend out of memory" in text)

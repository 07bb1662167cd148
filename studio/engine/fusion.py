"""LoRA students merged into their base's weights ("fused"), with a bit-exact way back for the teacher.

Why fuse: an unfused LoRA adds two small matrix products to every layer it targets, at every step. On an H200
with full-size random weights in fp16 (rank 64 on the attention, projection and feed-forward layers), each
step of a 4-step SDXL student at 1024² cost 1.5-1.7× a plain step unfused (0.59-0.75 s against 0.41-0.47 s a
call, two runs), SD1.5 at 512² 1.45-1.48× (`python -m studio.engine.bench_random --lora-rank 64`). The
SDXL-Lightning, Hyper-SD and LCM-LoRA model cards all fuse.

How, keeping DESIGN §2 (one resident base shared with the teacher, which must see exactly its own weights):
being fused is residency state, like an attached IP-Adapter. A student call merges its LoRA into the base and
leaves it merged while student calls follow. The first call that needs other weights (the teacher, another
student) first puts the original weights back bit for bit, from a copy taken before the first merge.
Subtracting the LoRA again (what PEFT's `unmerge` does) would not: float rounding leaves the base a little
different after every switch, and the error would grow over a session.

The copy is kept in host memory (pinned on CUDA, so putting it back is one fast transfer per layer). On a GPU
it costs no device memory; on the CPU it would sit in the same RAM as the model, so there fusing is opt-in
(`Settings.fuse_lora`, STUDIO_FUSE_LORA=on). A copy that would take more than half the free RAM is not made:
the student then runs unfused, and its provenance says why.

Measured on an H200 (fp16, full-size random weights, rank-64 LoRA on 722 SDXL layers): the host copy is 4.4 GB
(SD1.5: 0.53 GB); the first merge takes 3.0 s (allocating the pinned copy; SD1.5 0.36 s), a later merge 38 ms
and the exact restore 84 ms (SD1.5: 9 and 11 ms), against a 1.9 s teacher call. The fused student ran as fast as
the plain UNet (0.44 s vs 0.41 s; unfused 0.59 s). Per-call LoRA state (which adapter is active, its scale, on/off)
is still captured and restored around every call by `loader.ComponentState`.
"""

from __future__ import annotations

from typing import Any

import torch

from .loader import switch_lora


class LoraFusion:
    """Which LoRA (if any) is merged into one base pipeline's UNet, and the original weights to restore."""

    def __init__(self, device: str):
        self.fused: tuple[str, float] | None = None  # (adapter id, scale) merged now
        self._device = device
        self._pin = device.startswith("cuda")
        self._originals: dict[Any, torch.Tensor] = {}  # peft layer -> host copy of its base layer's weight

    @property
    def copy_bytes(self) -> int:
        """Host memory held by the copies of the original weights."""
        return sum(t.numel() * t.element_size() for t in self._originals.values())

    def ensure(self, layers: list[Any], adapter: str | None, scale: float = 1.0) -> str | None:
        """Make the layers carry exactly `adapter` merged at `scale`, or the plain base weights for None.

        Returns a note for the provenance when something changed, else None."""
        wanted = (adapter, float(scale)) if adapter is not None else None
        if self.fused == wanted:
            return None
        before = self.fused
        if before is not None:
            self._restore(layers)
        if wanted is None:
            return f"Base weights restored exactly (LoRA {before[0]} unfused)."
        needed = self._copy_bytes_needed(layers, adapter)
        available = _available_host_bytes()
        if needed > available // 2:
            return (f"LoRA {adapter} not fused: keeping a copy of the weights it changes needs {needed / 1e6:.0f} MB "
                    f"of RAM and {available / 1e6:.0f} MB are free, so it runs unfused (slower steps).")  # fmt: skip
        try:
            self._merge(layers, adapter, float(scale))
        except BaseException:
            self._restore(layers)  # never leave half a merge behind
            raise
        return (f"LoRA {adapter} fused into the base (scale {scale:g}); a copy of the "
                f"{self.copy_bytes / 1e6:.0f} MB of weights it changes is kept to restore them exactly.")  # fmt: skip

    def _copy_bytes_needed(self, layers: list[Any], adapter: str) -> int:
        weights = [layer.get_base_layer().weight for layer in layers
                   if adapter in layer.lora_A and layer not in self._originals]  # fmt: skip
        return sum(w.numel() * w.element_size() for w in weights)

    def _merge(self, layers: list[Any], adapter: str, scale: float) -> None:
        for layer in layers:
            if adapter not in layer.lora_A:
                continue
            weight = layer.get_base_layer().weight
            if layer not in self._originals:
                copy = torch.empty(weight.shape, dtype=weight.dtype, device="cpu", pin_memory=self._pin)
                self._originals[layer] = copy.copy_(weight.detach())
            if layer.active_adapters != [adapter]:
                layer.set_adapter([adapter])
            layer.set_scale(adapter, scale)
            layer.merge(adapter_names=[adapter])
        self.fused = (adapter, scale)
        switch_lora(layers, enabled=True)  # merged layers stay "on": PEFT unmerges (by subtraction) layers turned off

    def _restore(self, layers: list[Any]) -> None:
        for layer in layers:
            if layer.merged_adapters:
                layer.get_base_layer().weight.data.copy_(self._originals[layer], non_blocking=self._pin)
                layer.merged_adapters.clear()
        if self._pin:
            torch.cuda.synchronize(torch.device(self._device))
        self.fused = None
        switch_lora(layers, enabled=False)  # the resting state of an unfused base: every LoRA layer off


def _available_host_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)

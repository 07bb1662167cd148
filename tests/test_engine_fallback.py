"""Fallback only for a named reason, errors that teach, cancellation, shared state left as it was, memory.

The makeup recipe is used throughout: its student (LCM-LoRA) runs LCMScheduler and its teacher the SD1.5
inpainting repo's PNDMScheduler, so a failure injected into `LCMScheduler.step` hits the student only, from
inside the real denoising loop.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import LCMScheduler, PNDMScheduler

from studio.engine.engine import Engine, GenerationCancelled, GenerationError
from studio.engine.loader import load_pipeline, module_bytes, quiet
from studio.engine.request import GenerationRequest
from studio.engine.resolver import Resolver
from studio.errors import InputError, ModelUnavailable
from studio.models import load_catalog
from studio.schema import Preview, Result
from studio.settings import Settings

SIZE = 64
IMAGE = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
MASK = np.zeros((SIZE, SIZE), np.uint8)
MASK[20:44, 16:48] = 255


def makeup(**overrides) -> GenerationRequest:
    fields = dict(app="makeup", pipeline="inpaint", adapters=(), image=IMAGE, mask_image=MASK, prompt="soft pink lips",
                  seed=11, steps=None)  # fmt: skip
    fields.update(overrides)
    return GenerationRequest(**fields)


@pytest.fixture(scope="module")
def engine(tiny_settings):
    engine = Engine(tiny_settings)
    # Warm both tiers once so later snapshots compare a settled residency (loaded LoRA, resident base).
    engine.run(makeup(mode="fast"))
    engine.run(makeup(mode="quality", steps=4))
    return engine


def shared_state(engine) -> dict:
    """Everything a call could leave changed on resident objects: scheduler, adapters and scales, dtypes, hooks,
    attention processors and the weights themselves (a checksum)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    state = {}
    for entry in engine.residency.entries():
        items = entry.value.components.items() if hasattr(entry.value, "components") else [("model", entry.value)]
        for name, obj in items:
            key = f"{entry.key[1]}/{name}"
            if name == "scheduler":
                state[key] = (id(obj), type(obj).__name__, dict(obj.config), getattr(obj, "num_inference_steps", None))
            elif isinstance(obj, torch.nn.Module):
                params = list(obj.parameters())
                state[key] = {
                    "dtypes": sorted({str(p.dtype) for p in params}),
                    "devices": sorted({p.device.type for p in params}),
                    "checksum": round(float(sum(p.detach().double().sum() for p in params)), 6),
                    "lora": [(n, tuple(m.active_adapters), bool(m.disable_adapters), tuple(sorted(m.scaling.items())))
                             for n, m in obj.named_modules() if isinstance(m, BaseTunerLayer)],
                    "hooks": sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in obj.modules()),
                    "processors": {k: (type(p).__name__, list(getattr(p, "scale", [])))
                                   for k, p in getattr(obj, "attn_processors", {}).items()},
                }  # fmt: skip
    return state


def test_forced_oom_in_the_student_gives_the_teacher_with_reason_oom(engine, monkeypatch):
    before = shared_state(engine)

    def out_of_memory(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated in a test)")

    monkeypatch.setattr(LCMScheduler, "step", out_of_memory)
    items = list(engine.generate(makeup(mode="auto")))
    result = items[-1]
    assert isinstance(result, Result) and result.provenance.tier == "teacher"
    assert result.provenance.fallback_reason == "oom"
    assert result.info["scheduler"] == "PNDMScheduler" and result.provenance.models[0].startswith("sd15-inpainting@")
    assert any("ran out of memory" in note for note in result.provenance.notes)
    assert shared_state(engine) == before

    # In fast mode there is no teacher to fall back to: the OOM surfaces as an error that says what to do.
    with pytest.raises(GenerationError, match="ran out of memory.*STUDIO_CPU_OFFLOAD"):
        list(engine.generate(makeup(mode="fast")))
    assert shared_state(engine) == before


def test_a_non_oom_error_propagates_and_the_teacher_is_not_tried(engine, monkeypatch):
    before = shared_state(engine)
    teacher_steps = []
    original = PNDMScheduler.step

    def counting(self, *args, **kwargs):
        teacher_steps.append(1)
        return original(self, *args, **kwargs)

    def broken(self, *args, **kwargs):
        raise ValueError("synthetic scheduler failure")

    monkeypatch.setattr(LCMScheduler, "step", broken)
    monkeypatch.setattr(PNDMScheduler, "step", counting)
    with pytest.raises(GenerationError) as info:
        list(engine.generate(makeup(mode="auto")))
    message = str(info.value)
    assert "lcm-lora-sd15" in message and "synthetic scheduler failure" in message
    assert "not one of the fallback reasons" in message and "mode='quality'" in message
    assert isinstance(info.value.__cause__, ValueError)
    assert teacher_steps == []
    assert shared_state(engine) == before


def test_missing_student_weights_fall_back_or_raise_with_the_fetch_command(tiny_hub, tmp_path):
    from studio.engine.tinyhub import partial_copy

    from studio.settings import Settings

    teacher_only = partial_copy(tiny_hub, tmp_path / "teacher-only", ["sd15-inpainting", "taesd"])
    engine = Engine(Settings(device="cpu", hf_cache_dir=teacher_only, models_dir=tmp_path / "models", offline=True))
    result = engine.run(makeup(mode="auto"))
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "unavailable"
    assert any("studio fetch makeup" in note for note in result.provenance.notes)
    with pytest.raises(ModelUnavailable) as info:
        list(engine.generate(makeup(mode="fast")))
    assert info.value.fetch_command == "studio fetch makeup"
    assert "pytorch_lora_weights.safetensors" in str(info.value)
    assert "Fetch them with: studio fetch makeup" in str(info.value)
    report = engine.availability("makeup", adapters=())
    missing = {"lcm-lora-sd15": ["pytorch_lora_weights.safetensors"]}
    assert report["student"] == {"available": False, "missing": missing}
    assert report["teacher"]["available"] is True and report["fetch"] == "studio fetch makeup"
    assert engine.availability("makeup")["teacher"]["available"] is False  # the default adapters are missing too

    # Without the teacher a LoRA student cannot run either (it is its base): both modes raise.
    lora_only = partial_copy(tiny_hub, tmp_path / "lora-only", ["lcm-lora-sd15"])
    engine = Engine(Settings(device="cpu", hf_cache_dir=lora_only, models_dir=tmp_path / "models", offline=True))
    for mode in ("auto", "quality"):
        with pytest.raises(ModelUnavailable, match="sd15-inpainting") as info:
            list(engine.generate(makeup(mode=mode)))
        assert info.value.fetch_command == "studio fetch makeup"

    # TAESD missing: previews fall back to the latent->RGB projection at latent resolution.
    no_taesd = partial_copy(tiny_hub, tmp_path / "no-taesd", ["sd15-inpainting", "lcm-lora-sd15"])
    engine = Engine(Settings(device="cpu", hf_cache_dir=no_taesd, models_dir=tmp_path / "models", offline=True))
    items = list(engine.generate(makeup(mode="fast")))
    assert items[-1].info["preview_decoder"] == "latent2rgb"
    assert [p.image.shape for p in items[:-1]] == [(SIZE // 8, SIZE // 8, 3)] * 3


def test_quality_gate_rejects_the_student_and_names_why(engine):
    before = shared_state(engine)
    seen = []

    def gate(image):
        seen.append(image.shape)
        return "lip colour error 14.2 > 8"

    result = engine.run(makeup(mode="auto", quality_gate=gate))
    assert seen == [(SIZE, SIZE, 3)]
    assert result.provenance.tier == "teacher" and result.provenance.fallback_reason == "quality_gate"
    assert any("lip colour error 14.2 > 8" in n for n in result.provenance.notes)
    assert "student (rejected by quality gate)" in result.extras
    assert result.info["rejected_student"]["provenance"]["tier"] == "student"
    passed = engine.run(makeup(mode="auto", quality_gate=lambda image: True))
    assert passed.provenance.tier == "student" and passed.provenance.fallback_reason is None
    assert shared_state(engine) == before


def test_adapter_scales_are_restored_after_a_controlnet_ip_adapter_call(engine):
    request = makeup(mode="fast", pipeline="controlnet-inpaint", adapters=None, control_image=IMAGE,
                     ip_adapter_image=IMAGE, ip_adapter_scale=0.9, controlnet_scale=0.5)  # fmt: skip
    engine.run(request)  # attaches the IP-Adapter and loads the ControlNet (residency, not per-call state)
    before = shared_state(engine)
    assert any("IPAdapter" in proc[0] for entry in before.values() if isinstance(entry, dict)
               for proc in entry["processors"].values())  # fmt: skip
    for mode in ("fast", "quality"):
        result = engine.run(GenerationRequest(**{**request.__dict__, "mode": mode, "steps": 3}))
        assert result.info["ip_adapter_scale"] == 0.9
        assert shared_state(engine) == before
    # A request without a reference image detaches the IP-Adapter (a residency change, reported in the notes),
    # which also leaves the module's engine as the other tests expect it.
    result = engine.run(makeup(mode="fast"))
    assert any("IP-Adapter ip-adapter-plus-face-sd15 detached" in note for note in result.provenance.notes)


def test_cancel_stops_the_run_and_restores_everything(engine):
    before = shared_state(engine)
    got = []
    request = makeup(mode="auto", cancel=lambda: bool(got))  # cancel as soon as one preview arrived
    with pytest.raises(GenerationCancelled):
        for item in engine.generate(request):
            got.append(item)
    assert len(got) == 1 and isinstance(got[0], Preview)
    assert shared_state(engine) == before

    # A consumer that stops iterating (a closed browser tab) stops the worker too, and frees the device lock.
    stream = engine.generate(makeup(mode="fast"))
    assert isinstance(next(stream), Preview)
    stream.close()
    assert shared_state(engine) == before
    assert engine.run(makeup(mode="fast")).provenance.tier == "student"


def test_student_and_teacher_share_one_resident_base(tiny_settings):
    """Bytes held with a LoRA student and its teacher both used, against one plain pipeline (issue: <= 1.1x)."""
    engine = Engine(tiny_settings)
    engine.run(makeup(mode="fast", previews=False))
    engine.run(makeup(mode="quality", previews=False, steps=3))
    assert engine.residency.keys() == [("pipeline", "sd15-inpainting")]
    both = engine.resident_bytes()
    resolved = Resolver(tiny_settings).resolve(load_catalog().get("sd15-inpainting"))
    with quiet():
        one = module_bytes(load_pipeline(resolved, "cpu", torch.float32))
    ratio = both / one
    print(f"\nresident bytes: student+teacher {both} / one pipeline {one} = {ratio:.4f}")
    assert ratio <= 1.1

    # For contrast, a full-UNet student holds a second UNet (VAE and text encoders stay shared).
    engine.run(GenerationRequest(app="avatar", pipeline="txt2img", adapters=(), student="lightning-sdxl-4step-unet",
                                 mode="fast", previews=False, width=SIZE, height=SIZE))  # fmt: skip
    base = engine.residency.peek(("pipeline", "sdxl-base")).value
    unet = engine.residency.peek(("unet", "lightning-sdxl-4step-unet")).value
    print(f"full-UNet student: {module_bytes(base, unet) / module_bytes(base):.3f}x one SDXL pipeline")


def test_memory_budget_evicts_the_least_recently_used(tiny_settings):

    engine = Engine(replace(tiny_settings, memory_budget_mb=1.0))  # far below any catalog size estimate
    engine.run(makeup(mode="fast", previews=False))
    engine.run(GenerationRequest(app="head", pipeline="txt2img", adapters=(), mode="fast", previews=False,
                                 width=SIZE, height=SIZE))  # fmt: skip
    assert ("pipeline", "sd15-inpainting") in engine.residency.evictions
    assert engine.residency.keys() == [("pipeline", "sd15")]


def test_one_device_thread_runs_concurrent_calls_one_after_the_other(engine):
    """Two callers at once: every UNet step runs on the engine's one device thread, the calls do not interleave,
    and each caller gets the image it would have got alone."""
    alone = {seed: engine.run(makeup(mode="fast", seed=seed, previews=False)).image for seed in (0, 1)}
    unet = engine.residency.peek(("pipeline", "sd15-inpainting")).value.unet
    threads_seen: list[str] = []
    hook = unet.register_forward_pre_hook(lambda *_: threads_seen.append(threading.current_thread().name))
    results = {}

    def run(seed):
        results[seed] = engine.run(makeup(mode="fast", seed=seed, previews=False)).image

    callers = [threading.Thread(target=run, args=(seed,)) for seed in (0, 1)]
    try:
        for t in callers:
            t.start()
        for t in callers:
            t.join(timeout=30 * 60)  # a hang guard (a deadlocked device thread), never a speed limit
    finally:
        hook.remove()
    assert len(threads_seen) == 8 and len(set(threads_seen)) == 1 and threads_seen[0].startswith("studio-cpu")
    # A daemon: quitting the studio never waits for a long CPU run to finish.
    assert [t.daemon for t in threading.enumerate() if t.name == threads_seen[0]] == [True]
    for seed in (0, 1):
        np.testing.assert_array_equal(results[seed], alone[seed])


def test_a_fused_student_leaves_its_teacher_the_exact_base_weights(tiny_settings, engine):
    """fuse_lora="on" (the GPU default): the student's LoRA is merged into the shared base between student calls;
    the teacher after it runs on the base's original weights, bit for bit, and gives the very same image."""
    fused = Engine(replace(tiny_settings, fuse_lora="on"))
    resolved = Resolver(tiny_settings).resolve(load_catalog().get("sd15-inpainting"))
    with quiet():
        original = dict(load_pipeline(resolved, "cpu", torch.float32).unet.named_parameters())
    for _ in range(2):  # student, teacher, student, teacher: every switch restores exactly
        student = fused.run(makeup(mode="fast", previews=False))
        assert student.info["lora"] == "fused"
        teacher = fused.run(makeup(mode="quality", steps=4, previews=False))
        assert teacher.info["lora"] is None
        assert any("restored exactly" in note for note in teacher.provenance.notes)
        unet = fused.residency.peek(("pipeline", "sd15-inpainting")).value.unet
        weights = {n.replace(".base_layer", ""): p for n, p in unet.named_parameters() if "lora_" not in n}
        assert weights.keys() == original.keys()
        assert all(torch.equal(weights[n], original[n]) for n in original)
    unfused_teacher = engine.run(makeup(mode="quality", steps=4, previews=False))
    np.testing.assert_array_equal(teacher.image, unfused_teacher.image)
    assert any("fused into the base" in note for note in fused.run(makeup(mode="fast")).provenance.notes)

    # The merged student computes what the unfused one does (float rounding apart).
    unfused_student = engine.run(makeup(mode="fast", previews=False))
    assert unfused_student.info["lora"] == "unfused"  # the CPU default
    assert np.abs(student.image.astype(int) - unfused_student.image).max() <= 2


def test_fuse_lora_setting_is_checked():
    with pytest.raises(InputError, match="fuse_lora"):
        Engine(Settings(device="cpu", fuse_lora="sometimes")).fuses_lora
    assert not Engine(Settings(device="cpu")).fuses_lora  # the copy would cost RAM beside the model: opt-in
    assert Engine(Settings(device="cpu", fuse_lora="on")).fuses_lora


def test_without_ram_for_the_exact_copy_the_student_runs_unfused_and_says_why(tiny_settings, monkeypatch):
    monkeypatch.setattr("studio.engine.fusion._available_host_bytes", lambda: 1000)
    result = Engine(replace(tiny_settings, fuse_lora="on")).run(makeup(mode="fast", previews=False))
    assert result.info["lora"] == "unfused"
    assert any("not fused" in note and "MB of RAM" in note for note in result.provenance.notes)


def test_a_device_call_cancelled_before_its_turn_never_runs():
    import time as clock

    from studio.engine.engine import DeviceWorker

    worker, ran = DeviceWorker("studio-test"), []
    first = worker.submit(clock.sleep, 0.2)
    queued = worker.submit(ran.append, "queued")
    assert queued.cancel()
    first.result()
    assert worker.submit(ran.append, "later").result() is None and ran == ["later"]

"""The VRAM planner (studio/engine/planner.py): plans from the catalog, its tables against the meta-device tracer,
`studio plan`, and the engine acting on plans (refusing a call that cannot fit, tiling, provenance) on the tiny hub.

Everything here runs on the CPU. The planner's prediction against a GPU's measured peak (within 15 % for SD1.5 and
SDXL with full-size random weights) is benchmarks/gpu_engine_check.py's job.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from studio.engine import planner
from studio.engine.planner import GIB, MB, MODES, WontFit, app_calls, plan_app, plan_call
from studio.models import load_catalog

SIZES = (24, 12, 8, 4)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


# ------------------------------------------------------------------------------------------------- plans
@pytest.mark.parametrize("app", ["makeup", "tryon", "avatar", "style", "head"])
def test_every_app_plans_at_4_8_12_24_gb_and_chooses_differently_as_memory_shrinks(catalog, app):
    plans = [plan_app(catalog, app, gb * GIB / MB, f"{gb} GB") for gb in SIZES]
    for tier in ("student", "teacher"):
        modes = [p[tier]["mode"] for p in plans]
        order = [MODES.index(m) for m in modes]
        assert order == sorted(order), f"{tier}: a smaller GPU never gets a cheaper mode: {modes}"
        assert len(set(modes)) > 1, f"{tier}: the same mode at every size: {modes}"
        for p, gb in zip(plans, SIZES):
            plan = p[tier]
            assert plan["fits"] and plan["peak_mb"] <= plan["usable_mb"] < gb * GIB / MB
            assert plan["modes"]["gpu"]["peak_mb"] >= plan["weights_mb"]  # everything resident, plus activations
            if plan["mode"] != "gpu":  # cheaper modes were tried first and did not fit
                assert not plan["modes"]["gpu"]["fits"]
    assert plans[0]["student"]["mode"] == "gpu", "24 GB holds every app's student"


def test_a_plan_lists_weights_by_dtype_activations_and_the_fusion_copy(catalog):
    plan = plan_app(catalog, "tryon", 12 * GIB / MB, "12 GB")["student"]
    files = plan["weight_files"]
    # The catalog's fp16 files load as they are; fp32 files (Hyper-SD's LoRA, the CLIP image encoder) are halved.
    assert plan["weights"]["sdxl-inpainting: unet"] == files["sdxl-inpainting: unet"]["file_mb"] == 5135
    assert files["hyper-sdxl-8step-cfg-lora: lora"]["stored"] == "float32"
    assert plan["weights"]["hyper-sdxl-8step-cfg-lora: lora"] == pytest.approx(787.36 / 2, abs=0.1)
    assert files["ip-adapter-plus-sdxl-vit-h: image encoder"]["stored"] == "float32"
    assert "sdxl-vae-fp16-fix: vae" in plan["weights"]  # the fix replaces the base VAE on a GPU
    assert not any(name.startswith("sdxl-inpainting: vae") for name in plan["weights"])
    assert set(plan["activations_mb"]) >= {"prompt", "reference", "encode", "denoise", "decode", "decode, tiled"}
    assert plan["batch"] == 2, "Hyper-SD's CFG LoRA doubles the batch"
    assert plan["host_mb"]["fusion copy"] == pytest.approx(5135 * planner.FUSED_SHARE["sdxl"], rel=1e-3)
    assert plan["mode"] == "model_offload" and plan["modes"]["model_offload"]["phase"] == "denoise"


def test_fp32_on_the_cpu_doubles_fp16_weights_and_a_full_unet_student_keeps_the_teachers_idle(catalog):
    half = app_calls(catalog, "avatar", dtype="float16")["student"]
    full = replace(half, dtype="float32")
    w16, w32 = planner.call_weights(half), planner.call_weights(full)
    assert sum(w.mb for w in w32) == pytest.approx(2 * sum(w.mb for w in w16), rel=0.01)
    idle = [w for w in w16 if w.group == "idle"]
    assert len(idle) == 1 and "sdxl-base: unet" in idle[0].name  # resident for the teacher, not moved by offload


def test_activations_scale_with_pixels_and_guidance(catalog):
    small = app_calls(catalog, "head", 512, 512)
    big = app_calls(catalog, "head", 1024, 1024)
    a512, a1024 = (planner.call_activations(c["student"]) for c in (small, big))
    assert a1024["decode"] == pytest.approx(4 * a512["decode"], rel=0.01)
    assert a1024["denoise"] == pytest.approx(4 * a512["denoise"], rel=0.02)
    student = replace(small["student"], guidance=1.0)  # CFG off: one image per UNet call
    assert planner.call_activations(small["student"])["denoise"] > 1.9 * planner.call_activations(student)["denoise"]
    assert a1024["decode, tiled"] < 0.4 * a1024["decode"], "512 px tiles: a quarter of the decoder's work at once"


def test_sdxl_without_the_fp16_fix_decodes_in_fp32(catalog):
    with_fix = app_calls(catalog, "avatar", vae_fix=True)["student"]
    without = app_calls(catalog, "avatar", vae_fix=False)["student"]
    assert without.upcast and not with_fix.upcast
    decode = planner.call_activations(with_fix)["decode"]
    assert planner.call_activations(without)["decode"] == pytest.approx(2 * decode, abs=0.2)
    plan = plan_call(without, 24 * GIB / MB, "24 GB", "cuda")
    assert any("fp16-fix" in n for n in plan.notes)


def test_a_cpu_records_offload_modes_but_applies_only_tiling(catalog):
    call = app_calls(catalog, "tryon", dtype="float32")["student"]
    plan = plan_call(call, 24 * GIB / MB, "24 GB", "cpu", planner.device_modes("cpu", 24))
    assert plan.mode == "model_offload" and plan.applied in ("gpu", "gpu+tiling") and plan.offload is None
    assert any("cannot offload" in n for n in plan.notes)
    forecast = plan_call(call, 16 * GIB / MB, "RAM", "cpu", planner.device_modes("cpu", None), enforce=False)
    assert forecast.applied == "gpu" and "forecast" in forecast.describe()


def test_nothing_fits_half_a_gigabyte(catalog):
    plan = plan_call(app_calls(catalog, "style")["teacher"], 0.5 * GIB / MB, "0.5 GB", "cuda")
    assert not plan.fits and plan.mode == "sequential_offload"
    message = str(WontFit(plan))
    assert "cannot fit" in message and "sequential offload" in message and "Plan:" in message


# ------------------------------------------------------------------------------------------------- the tables
def test_the_planners_tables_match_the_meta_device_tracer():
    """Re-measure SD1.5's figures (memtrace at a 32×32 latent, unlike the table's 64×64: linear in pixels)."""
    from studio.engine import memtrace

    side = 32
    unet = memtrace.denoise_peak("sd15", side) / side**2
    assert unet == pytest.approx(planner.PER_LATENT_PIXEL["unet-sd15"], rel=0.08)
    assert memtrace.denoise_peak("sd15", side, batch=2) / side**2 == pytest.approx(2 * unet, rel=0.08)
    decode = memtrace.vae_peak(side, "decode") / side**2
    assert decode == pytest.approx(planner.PER_LATENT_PIXEL["vae-decode"], rel=0.05)
    assert memtrace.params(memtrace.unet("sd15")) / 1e6 == pytest.approx(planner.PARAMS_M["unet-sd15"], abs=0.01)
    assert memtrace.params(memtrace.vae()) / 1e6 == pytest.approx(planner.PARAMS_M["vae"], abs=0.01)


def test_the_meta_tracer_counts_what_stays_alive():
    import torch

    from studio.engine.memtrace import peak_bytes

    x = torch.empty(1024, device="meta")  # made before: not counted

    def call():
        a = x * 2  # 4 kB
        b = a + 1  # 8 kB alive
        del a
        c = b.view(-1)  # a view: no new storage
        return c * 3  # b and the result: 8 kB

    assert peak_bytes(call) == 8192


def test_fp32_lora_repos_match_the_tiny_hubs_formats():
    import torch

    from studio.engine.tinyhub import LORA_FORMAT

    assert {repo for repo, (dtype, _) in LORA_FORMAT.items() if dtype == torch.float32} == set(planner.LORA_FP32_REPOS)


# ------------------------------------------------------------------------------------------------- studio plan
def test_studio_plan_prints_json_for_several_sizes(capsys):
    from studio.cli import main

    assert main(["plan", "tryon", "--vram", "24", "12", "8", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["vram_gb"] for row in report["summary"]] == [24, 12, 8, 4]
    assert [row["student_mode"] for row in report["summary"]] == ["gpu", "model_offload", "sequential_offload",
                                                                   "sequential_offload"]  # fmt: skip
    assert main(["plan", "makeup", "--vram", "8", "--resolution", "768"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert single["student"]["width"] == 768 and single["capacity_gb"] == 8


def test_studio_plan_without_a_gpu_plans_the_cpu_and_bad_values_teach(capsys):
    from studio.cli import main

    assert main(["plan", "head", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dtype"] == "float32" and "--vram" in report["note"]
    assert main(["plan", "head", "--vram", "0"]) == 2
    assert "between 0.5 and 4096" in capsys.readouterr().err
    assert main(["plan", "head", "--resolution", "500"]) == 2
    assert main(["plan", "nosuchapp"]) == 2


# ------------------------------------------------------------------------------------------------- the engine
SIZE = 64


def _request(**overrides):
    from studio.engine.request import GenerationRequest

    fields = dict(app="head", pipeline="txt2img", student="lcm-lora-sd15", adapters=(), prompt="a portrait", seed=3,
                  mode="fast", width=SIZE, height=SIZE, steps=2, previews=False)  # fmt: skip
    return GenerationRequest(**{**fields, **overrides})


def test_the_engine_refuses_a_call_that_cannot_fit_before_loading_anything(tiny_settings):
    from studio.engine.engine import Engine

    engine = Engine(replace(tiny_settings, vram_gb=0.5))
    with pytest.raises(WontFit) as caught:
        engine.run(_request())
    assert caught.value.plan.tier == "student" and not caught.value.plan.fits
    assert engine.residency.keys() == [], "nothing was loaded"


def test_the_plan_is_in_the_provenance_with_the_measured_peak(tiny_settings):
    from studio.engine.engine import Engine

    result = Engine(replace(tiny_settings, vram_gb=24)).run(_request())
    memory = result.info["memory_plan"]
    assert memory["mode"] == "gpu" and memory["enforced"] and memory["offload"] is None and not memory["vae_tiling"]
    assert memory["predicted_peak_mb"] > 1000 and memory["measured_peak_mb"] == result.provenance.peak_memory_mb
    assert any(n.startswith("memory plan: everything on the GPU") for n in result.provenance.notes)
    assert result.info["speed"]["attention"] == "sdpa" and result.info["speed"]["compile"] == "off"
    cpu = Engine(tiny_settings).run(_request())  # no size given: the CPU's plan is a forecast
    assert not cpu.info["memory_plan"]["enforced"] and "forecast" in " ".join(cpu.provenance.notes)


def test_a_plan_that_tiles_the_vae_decodes_in_tiles_and_restores_the_vae(tiny_settings, monkeypatch):
    from diffusers import AutoencoderKL

    from studio.engine import placement
    from studio.engine.engine import Engine

    for module in (planner, placement):  # 256 px tiles on a 512 px image: the 512-on-1024 case at a quarter the cost
        monkeypatch.setattr(module, "TILE_PX", 256)
    request = _request(width=512, height=512)
    probe = Engine(replace(tiny_settings, vram_gb=100))
    plan = probe.memory_plan(request, probe.plan(request, "student"))
    gpu, tiled = plan.modes["gpu"]["peak_mb"], plan.modes["gpu+tiling"]["peak_mb"]
    assert tiled < gpu
    between = ((gpu + tiled) / 2 + planner.CONTEXT_MB) / (1 - planner.FRAGMENTATION) * MB / GIB
    engine = Engine(replace(tiny_settings, vram_gb=round(between, 3)))
    tiles = []
    original = AutoencoderKL.tiled_decode
    monkeypatch.setattr(AutoencoderKL, "tiled_decode", lambda self, z, *a, **k: tiles.append(z.shape) or
                        original(self, z, *a, **k))  # fmt: skip
    result = engine.run(request)
    assert result.info["memory_plan"]["mode"] == "gpu+tiling" and result.info["memory_plan"]["vae_tiling"]
    assert tiles and result.image.shape == (512, 512, 3) and np.isfinite(result.image).all()
    vae = engine.residency.peek(("pipeline", "sd15")).value.vae
    assert vae.use_tiling is False and vae.tile_sample_min_size == vae.config.sample_size

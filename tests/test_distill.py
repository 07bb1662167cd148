"""`studio distill`: latent consistency distillation of a LoRA student, on the tiny hub's teachers (CPU, seconds).

The tiny teachers have random weights, so the students are noise: these tests check the method's arithmetic against
diffusers' LCMScheduler, the run folder (standard LoRA keys, student.json, inherited licence, checkpoints), exact
resume, errors a user can make, and that the engine and Compare run the student beside its own teacher.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.distill import DistillConfig, DistillStopped, distill
from studio.distill import data
from studio.distill.teacher import resolve_teacher
from studio.engine import user_students
from studio.errors import InputError, ModelUnavailable
from studio.settings import Settings

FAST = dict(max_steps=2, batch_size=2, rank=4, samples=0, checkpoint_every=1)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three photos that ship with scikit-image, under names a captionless folder would have."""
    from skimage import data as sk

    folder = tmp_path_factory.mktemp("photos")
    for name, image in (("astronaut_portrait.png", sk.astronaut()), ("coffee_cup.png", sk.coffee()),
                        ("IMG_0042.png", sk.chelsea())):  # fmt: skip
        Image.fromarray(image).save(folder / name)
    return folder


def settings_for(tiny_hub: Path, root: Path, **kw) -> Settings:
    return Settings(device="cpu", hf_cache_dir=tiny_hub, models_dir=root / "models", cache_dir=root / "cache",
                    offline=True, **kw)  # fmt: skip


@pytest.fixture(scope="module")
def run(tiny_hub, photos, tmp_path_factory):
    """One 2-step distillation of the tiny SD1.5 teacher (checkpoint every step, a one-row samples sheet)."""
    root = tmp_path_factory.mktemp("distill")
    settings = settings_for(tiny_hub, root)
    events = []
    result = distill(DistillConfig("sd15", photos, root / "runs" / "mine", **{**FAST, "samples": 1}), settings,
                     progress=events.append)  # fmt: skip
    return result, settings, events


def tiny_catalog(settings):
    from studio.engine.tiny import tiny_catalog as shrink
    from studio.models import load_catalog

    return shrink(user_students.extend(load_catalog(), settings))


# --------------------------------------------------------------------------------------------- the method
def test_grid_and_boundary_conditions_match_lcm_scheduler():
    """The student is trained for what LCMScheduler does at inference: its timesteps lie on our grid and its
    boundary scalings are ours, so f(x, 0) = x."""
    from diffusers import LCMScheduler

    from studio.distill import lcm

    scheduler = LCMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    grid = lcm.OdeGrid.build(scheduler.alphas_cumprod, 50)
    assert grid.skip == 20 and grid.timesteps[0] == 19 and grid.timesteps[-1] == 999
    for steps in (2, 4, 8):
        scheduler.set_timesteps(steps)
        assert set(scheduler.timesteps.tolist()) <= set(grid.timesteps.tolist()), steps
    t = torch.tensor([0, 19, 499, 999])
    c_skip, c_out = lcm.boundary_scalings(t, 4)
    for i, step in enumerate(t.tolist()):
        ref_skip, ref_out = scheduler.get_scalings_for_boundary_condition_discrete(step)
        assert float(c_skip[i]) == pytest.approx(float(ref_skip), rel=1e-6)
        assert float(c_out[i]) == pytest.approx(float(ref_out), rel=1e-6, abs=1e-9)
    x = torch.randn(4, 4, 8, 8)
    assert torch.allclose(lcm.consistency(x, torch.zeros_like(x), torch.zeros(4, dtype=torch.long), 10.0), x)


def test_x0_and_ddim_step_invert_the_forward_process():
    from studio.distill import lcm

    alphas = torch.cumprod(1 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2, 0)
    grid = lcm.OdeGrid.build(alphas, 50)
    generator = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 4, 8, 8, generator=generator), torch.randn(3, 4, 8, 8, generator=generator)
    index, start, prev = grid.sample(3, generator)
    assert torch.equal(start - prev, torch.full_like(start, 20).minimum(start))
    a, s = grid.alpha_sigma(start, 4)
    xt = a * x0 + s * eps
    assert torch.allclose(lcm.predicted_x0(eps, start, xt, "epsilon", grid), x0, atol=1e-4)
    v = a * eps - s * x0  # v-prediction's target
    assert torch.allclose(lcm.predicted_x0(v, start, xt, "v_prediction", grid), x0, atol=1e-4)
    assert torch.allclose(lcm.predicted_eps(v, start, xt, "v_prediction", grid), eps, atol=1e-4)
    a_prev, s_prev = grid.alpha_sigma(prev, 4)  # the exact x0 and ε land on the forward process at t_n
    assert torch.allclose(grid.ddim_step(x0, eps, prev), a_prev * x0 + s_prev * eps, atol=1e-5)
    assert torch.allclose(lcm.guided(torch.ones(1), torch.zeros(1), torch.tensor(3.0)), torch.tensor([4.0]))
    d = torch.tensor([0.0, 10.0])
    assert float(lcm.distillation_loss(d[:1], torch.zeros(1), "huber", 0.001)) == 0.0
    assert float(lcm.distillation_loss(d[1:], torch.zeros(1), "huber", 0.001)) == pytest.approx(10.0, abs=0.01)
    with pytest.raises(ValueError):
        lcm.distillation_loss(d, d, "l1", 0.001)


# --------------------------------------------------------------------------------------------- data
def test_captions_come_from_files_sidecars_the_flag_or_file_names(tmp_path):
    for name in ("a.png", "b.png", "c.png", "IMG_20240101_0042.png", "woman_red-lips_01.jpg"):
        Image.new("RGB", (80, 80), (200, 10, 10)).save(tmp_path / name)
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "a.png", "text": "brandx sneaker"}\n\n'
                                             '{"file_name": "b.png", "text": ["first caption", "second"]}\n')
    (tmp_path / "c.txt").write_text("brandx hoodie, studio light\n")
    found = {s.path.name: (s.caption, s.caption_source) for s in data.scan(tmp_path).samples}
    assert found["a.png"] == ("brandx sneaker", "metadata.jsonl")
    assert found["b.png"] == ("first caption", "metadata.jsonl")
    assert found["c.png"] == ("brandx hoodie, studio light", "sidecar .txt")
    assert found["IMG_20240101_0042.png"] == ("a photo", "file name")
    assert found["woman_red-lips_01.jpg"] == ("woman red lips", "file name")
    flagged = {s.path.name: s.caption for s in data.scan(tmp_path, caption="brandx product").samples}
    assert flagged["woman_red-lips_01.jpg"] == "brandx product" and flagged["a.png"] == "brandx sneaker"
    csv = tmp_path / "captions.csv"
    csv.write_text("file_name,text\nc.png,from the csv\n")
    assert {s.path.name: s.caption for s in data.scan(tmp_path, captions=csv).samples}["c.png"] == "from the csv"
    csv.write_text("name,caption\nc.png,x\n")
    with pytest.raises(InputError, match="file_name and text"):
        data.scan(tmp_path, captions=csv)
    (tmp_path / "metadata.jsonl").write_text("{not json\n")
    with pytest.raises(InputError, match="line 1 is not JSON"):
        data.scan(tmp_path)


def test_unusable_images_are_skipped_and_none_left_is_an_error(tmp_path):
    Image.new("RGB", (128, 96), (10, 200, 10)).save(tmp_path / "good.png")
    Image.new("RGB", (20, 20)).save(tmp_path / "small.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg at all")
    checked = data.load_checked(data.scan(tmp_path), 64, 50_000_000)
    assert [s.path.name for s in checked.samples] == ["good.png"]
    assert "under half the training resolution" in checked.skipped["small.png"]
    assert "broken.jpg" in checked.skipped and any("2 images were skipped" in n for n in checked.notes)
    with pytest.raises(InputError, match="None of the 3 training images"):
        data.load_checked(data.scan(tmp_path), 512, 50_000_000)
    prepared = data.prepare(tmp_path / "good.png", 64, np.random.default_rng(0), center_crop=False, flip=True,
                            max_pixels=50_000_000)  # fmt: skip
    assert prepared.pixels.shape == (3, 64, 64) and prepared.original_size == (96, 128)
    assert -1.0 <= prepared.pixels.min() and prepared.pixels.max() <= 1.0
    cache = data.ResizedCache(budget_mb=0.03)  # room for one 64×85 resize, not two
    again = [data.prepare(tmp_path / "good.png", 64, np.random.default_rng(0), False, True, 50_000_000, cache)
             for _ in range(2)]  # fmt: skip
    assert all(np.array_equal(a.pixels, prepared.pixels) for a in again) and len(cache.items) == 1
    with pytest.raises(InputError, match="does not exist"):
        data.scan(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No images"):
        data.scan(tmp_path / "empty")


# --------------------------------------------------------------------------------------------- teachers
def test_bad_teachers_say_what_to_do(tiny_hub, tmp_path):
    settings = settings_for(tiny_hub, tmp_path)
    with pytest.raises(InputError, match="No teacher 'sd-15'.*Did you mean sd15"):
        resolve_teacher("sd-15", settings)
    with pytest.raises(InputError, match="catalog student .*not a teacher pipeline"):
        resolve_teacher("lcm-lora-sd15", settings)
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(InputError, match="is a file"):
        resolve_teacher(str(tmp_path / "model.safetensors"), settings)
    with pytest.raises(InputError, match="single-file checkpoint"):
        resolve_teacher(str(tmp_path), settings)
    empty = replace(settings, hf_cache_dir=tmp_path / "empty-hub")
    with pytest.raises(ModelUnavailable, match="studio fetch sd15"):
        resolve_teacher("sd15", empty)
    with pytest.raises(ModelUnavailable, match="not in the Hugging Face cache"):
        resolve_teacher("someone/their-finetune", settings)


def _local_teacher(tiny_hub: Path, folder: Path, licence: str | None) -> Path:
    """A user's fine-tune saved with save_pretrained: the tiny SD1.5 pipeline's files in a plain folder."""
    from studio.models import load_catalog

    spec = load_catalog().get("sd15")
    snapshot = next((tiny_hub / f"models--{spec.repo.replace('/', '--')}" / "snapshots").iterdir())
    shutil.copytree(snapshot, folder)
    if licence:
        (folder / "README.md").write_text(f"---\nlicense: {licence}\ntags: [brand]\n---\n# Our brand model\n")
    return folder


def test_folder_and_hub_teachers_carry_their_card_licence(tiny_hub, tmp_path):
    from studio.engine.tinyhub import repo_files, write_cache
    from studio.models import load_catalog

    settings = settings_for(tiny_hub, tmp_path)
    folder = resolve_teacher(str(_local_teacher(tiny_hub, tmp_path / "brand", "brand-licence-1.0")), settings)
    assert (folder.source, folder.family, folder.pipeline, folder.variant) == ("folder", "sd15",
                                                                              "StableDiffusionPipeline", "fp16")
    assert folder.licence.name == "brand-licence-1.0" and folder.licence.use == "unverified"
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in folder.files and folder.resolution == 64
    # A Hub fine-tune already in the HF cache (offline): the tiny SD1.5 files under another repo id.
    hub = tmp_path / "hub"
    files = repo_files([load_catalog().get("sd15")])["stable-diffusion-v1-5/stable-diffusion-v1-5"]
    write_cache(hub, {"brandco/brand-sd15": {**files, "README.md": b"---\nlicense: cc-by-nc-4.0\n---\n"}})
    found = resolve_teacher("brandco/brand-sd15", replace(settings, hf_cache_dir=hub))
    assert (found.source, found.repo, found.licence.use) == ("hub", "brandco/brand-sd15", "non-commercial")
    assert len(found.revision) == 40
    with pytest.raises(InputError, match="non-commercial.*STUDIO_INCLUDE_NONCOMMERCIAL"):
        distill(DistillConfig("brandco/brand-sd15", tmp_path, tmp_path / "out"), replace(settings, hf_cache_dir=hub))


# --------------------------------------------------------------------------------------------- a run
def test_run_writes_a_standard_lora_a_catalog_entry_and_a_model_card(run, tiny_hub):
    from safetensors import safe_open

    result, settings, events = run
    out = result.folder
    assert result.student_id == "mine" and result.steps_done == 2
    assert {"pytorch_lora_weights.safetensors", "student.json", "README.md", "samples.png",
            "train_log.jsonl"} <= {p.name for p in out.iterdir()}  # fmt: skip
    with safe_open(out / "pytorch_lora_weights.safetensors", "pt") as f:
        keys = list(f.keys())
        metadata = f.metadata()
        assert f.get_tensor(keys[0]).dtype == torch.float16
    # diffusers' own PEFT layout: unet.<module>.lora_A/B.weight, nothing of PEFT's wrapper (round2 §F gotcha 3).
    assert all(k.startswith("unet.") and (".lora_A.weight" in k or ".lora_B.weight" in k) for k in keys)
    assert not any("base_model.model" in k for k in keys)
    assert any(".attn2.to_k." in k for k in keys) and any(".time_emb_proj." in k for k in keys)
    assert json.loads(metadata["lora_adapter_metadata"])["unet.r"] == 4  # the adapter config, read on load
    manifest = json.loads((out / "student.json").read_text())
    assert manifest["teacher"]["spec_id"] == "sd15" and manifest["family"] == "sd15"
    assert manifest["licence"]["name"] == "creativeml-openrail-m" and manifest["licence"]["use"] == "commercial"
    assert "inherited from the teacher sd15" in manifest["licence"]["source"]
    assert manifest["recipe"] == {"scheduler": "LCMScheduler", "scheduler_overrides": {}, "steps": 4,
                                  "step_range": [2, 8], "guidance": 1.0, "resolution": 64}  # fmt: skip
    training = manifest["training"]
    assert (training["loss"], training["huber_c"], training["num_ddim_timesteps"]) == ("huber", 0.001, 50)
    assert (training["w_min"], training["w_max"], training["images"]) == (5.0, 15.0, 3)
    assert training["seconds_per_step"] > 0 and np.isfinite(training["final_loss"])
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: creativeml-openrail-m\nbase_model: stable-diffusion-v1-5/")
    assert [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text().splitlines()] == [1, 2]
    phases = [e["phase"] for e in events]
    assert phases[:2] == ["load", "start"] and phases.count("train") == 2 and phases[-1] == "done"
    assert Image.open(out / "samples.png").size[0] >= 2 * 256
    registered = settings.models_dir / "students" / "mine"
    assert registered.is_symlink() and registered.resolve() == out and result.registered == registered


def test_the_lora_loads_as_is_into_a_diffusers_pipeline(run, tiny_hub):
    """What a user outside the studio does: from_pretrained(teacher) + load_lora_weights(folder)."""
    from diffusers import LCMScheduler, StableDiffusionPipeline

    result, _, _ = run
    teacher = next((tiny_hub / "models--stable-diffusion-v1-5--stable-diffusion-v1-5" / "snapshots").iterdir())
    pipe = StableDiffusionPipeline.from_pretrained(teacher, variant="fp16", dtype=torch.float32, safety_checker=None,
                                                   feature_extractor=None, requires_safety_checker=False)  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    pipe.load_lora_weights(str(result.folder), adapter_name="mine")
    assert "mine" in pipe.get_list_adapters()["unet"]
    kwargs = dict(prompt="a photo", num_inference_steps=4, guidance_scale=1.0, height=64, width=64, output_type="np")
    student = pipe(**kwargs, generator=torch.Generator().manual_seed(0)).images
    pipe.disable_lora()
    teacher_image = pipe(**kwargs, generator=torch.Generator().manual_seed(0)).images
    assert np.isfinite(student).all() and not np.array_equal(student, teacher_image)


def test_the_engine_runs_the_student_on_its_own_teacher(run, tiny_hub, tmp_path):
    """Picked for the makeup app (whose teacher is SD1.5 *inpainting*), the student brings plain SD1.5; availability
    checks that teacher, so a machine without the inpainting model can still run it."""
    from studio.context import RunContext
    from studio.engine.engine import Engine
    from studio.engine.request import GenerationRequest
    from studio.engine.tinyhub import partial_copy
    from studio.generate import run_on_engine
    from studio.preprocess import Preprocessing
    from studio.tiers import choose_tier

    _, settings, _ = run
    have = ["sd15", "controlnet-mediapipe-face-sd15", "ip-adapter-plus-face-sd15"]  # no sd15-inpainting, no LCM-LoRA
    only_sd15 = replace(settings, hf_cache_dir=partial_copy(tiny_hub, tmp_path / "hub", have))
    engine = Engine(only_sd15, catalog=tiny_catalog(only_sd15))
    ctx = RunContext(settings=only_sd15, preprocess=Preprocessing(only_sd15)).with_engine(engine)
    with pytest.raises(ModelUnavailable):
        choose_tier(ctx, "makeup", "student")  # the recipe's own student and teacher are not here
    picked = ctx.with_student("makeup", "mine")
    assert picked.student_choice("makeup") == {"student": "mine", "teacher": "sd15"}
    assert choose_tier(picked, "makeup", "student").mode == "fast"
    request = GenerationRequest(app="makeup", pipeline="txt2img", adapters=(), mode="fast", prompt="a portrait",
                                seed=1, width=64, height=64)  # fmt: skip
    gen = run_on_engine(picked, request, paste=lambda image: image)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value
            break
    models = result.provenance.models
    assert result.provenance.tier == "student" and models[0].startswith("mine@") and models[1].startswith("sd15@")
    assert result.info["lora"] in ("fused", "unfused") and result.image.shape == (64, 64, 3)
    with pytest.raises(InputError, match="No student 'nobody'"):
        ctx.with_student("makeup", "nobody").student_choice("makeup")


def test_compare_puts_the_student_beside_its_teacher(run, tiny_hub):
    from studio.compare import compare
    from studio.context import RunContext
    from studio.engine.engine import Engine
    from studio.engine.request import GenerationRequest
    from studio.generate import run_on_engine
    from studio.preprocess import Preprocessing
    from studio.schema import App, ChoiceParam, Result, SeedParam

    def run_tier(ctx, tier, seed):
        mode = {"student": "fast", "teacher": "quality"}[tier]
        request = GenerationRequest(app="makeup", pipeline="txt2img", adapters=(), mode=mode, prompt="a portrait",
                                    seed=seed, width=64, height=64)  # fmt: skip
        result = yield from run_on_engine(ctx, request, paste=lambda image: image)
        yield result

    app = App("distill-test", "distill test", "txt2img on the makeup recipe", run=run_tier, recipe="makeup",
              params=(ChoiceParam("tier", "Tier", default="student", choices=("student", "teacher")),
                      SeedParam("seed", "Seed")), capabilities=frozenset({"compare"}))  # fmt: skip
    _, settings, _ = run
    ctx = RunContext(settings=settings, preprocess=Preprocessing(settings))
    ctx = ctx.with_engine(Engine(settings, catalog=tiny_catalog(settings))).with_student("makeup", "mine")
    comparison = compare(app, ctx, {}, seed=3)
    student, teacher = (comparison.results[t] for t in ("student", "teacher"))
    assert isinstance(student, Result) and student.provenance.models[0].startswith("mine@")
    assert teacher.provenance.models[0].startswith("sd15@")  # its own teacher, not the recipe's sd15-inpainting
    # The teacher's own recipe: 30 steps of SD1.5's PNDM (which runs one extra warm-up step).
    assert student.provenance.steps == 4 and teacher.provenance.steps >= 30
    assert comparison.rows[0]["SSIM vs teacher"] is not None


def test_students_for_lists_the_catalogs_and_the_users(run):
    _, settings, _ = run
    rows = user_students.students_for("makeup", settings)
    assert rows[0]["default"] and rows[0]["origin"] == "catalog"
    mine = next(r for r in rows if r["id"] == "mine")
    assert (mine["origin"], mine["teacher"], mine["steps"], mine["available"]) == ("user", "sd15", 4, True)
    assert "yours" in mine["label"] and "creativeml-openrail-m" in mine["licence"]
    assert all(r["id"] != "mine" for r in user_students.students_for("tryon", settings))  # SDXL app: not listed


# --------------------------------------------------------------------------------------------- resume and errors
def test_a_stopped_run_resumes_to_exactly_the_uninterrupted_result(tiny_hub, photos, tmp_path):
    from safetensors.torch import load_file

    settings = settings_for(tiny_hub, tmp_path)
    config = DistillConfig("sd15", photos, tmp_path / "straight", **{**FAST, "max_steps": 3, "batch_size": 1,
                                                                    "rank": 2, "register": False})  # fmt: skip
    distill(config, settings)
    stopped = replace(config, out=tmp_path / "stopped")
    with pytest.raises(DistillStopped, match="stopped at step 2 of 3.*--resume"):
        distill(stopped, settings, cancel=lambda: (tmp_path / "stopped" / "checkpoints" / "step-000002").is_dir())
    assert not (tmp_path / "stopped" / "pytorch_lora_weights.safetensors").exists()
    with pytest.raises(InputError, match="already holds a distillation run at step 2.*--resume"):
        distill(stopped, settings)
    with pytest.raises(InputError, match="other settings.*rank: 2 then, 3 now"):
        distill(replace(stopped, resume=True, rank=3), settings)
    resumed = distill(replace(stopped, resume=True), settings)
    assert resumed.resumed_from == 2 and resumed.steps_done == 3
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-000003" / "lora.safetensors")
    b = load_file(tmp_path / "stopped" / "checkpoints" / "step-000003" / "lora.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "stopped" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3]
    assert [c.name for c in sorted((tmp_path / "stopped" / "checkpoints").iterdir())] == ["step-000002", "step-000003"]
    with pytest.raises(InputError, match="already at step 3; raise --max-steps"):
        distill(replace(stopped, resume=True), settings)
    with pytest.raises(InputError, match="Nothing to resume"):
        distill(replace(config, out=tmp_path / "fresh", resume=True), settings)


@pytest.mark.parametrize("teacher", ["sdxl-base", "sd15-inpainting"])
def test_sdxl_and_inpainting_teachers(teacher, tiny_hub, photos, tmp_path):
    """SDXL conditions on two encoders, pooled text and size ids; an inpainting UNet on a mask and the masked image:
    one step each, then the LoRA loads into the pipeline the engine would build."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionXLPipeline

    settings = settings_for(tiny_hub, tmp_path)
    config = DistillConfig(teacher, photos, tmp_path / f"my-{teacher}", **{**FAST, "max_steps": 1, "batch_size": 1})
    result = distill(config, settings)
    manifest = result.manifest
    assert manifest["teacher"]["inpaint"] == (teacher == "sd15-inpainting")
    assert manifest["training"]["w_min"] == (3.0 if teacher == "sdxl-base" else 5.0)
    root = Path(manifest["teacher"]["folder"])
    cls = StableDiffusionXLPipeline if teacher == "sdxl-base" else StableDiffusionInpaintPipeline
    extra = {} if teacher == "sdxl-base" else {"safety_checker": None, "feature_extractor": None,
                                               "requires_safety_checker": False}  # fmt: skip
    pipe = cls.from_pretrained(root, variant="fp16", dtype=torch.float32, **extra)
    pipe.load_lora_weights(str(result.folder), adapter_name="s")
    assert "s" in pipe.get_list_adapters()["unet"]
    family = "sdxl" if teacher == "sdxl-base" else "sd15"
    apps = [a for a in tiny_catalog(settings).apps.values() if a.family == family]
    assert all(result.student_id in a.alternatives for a in apps)


def test_a_users_own_folder_teacher_becomes_a_catalog_teacher(tiny_hub, photos, tmp_path):
    """A fine-tune on disk (not in the catalog): the student records it, the studio registers the folder as a
    teacher entry, and the engine runs the pair."""
    from studio.engine.engine import Engine
    from studio.engine.request import GenerationRequest

    settings = settings_for(tiny_hub, tmp_path)
    brand = _local_teacher(tiny_hub, tmp_path / "brand-model", "brand-licence-1.0")
    result = distill(DistillConfig(str(brand), photos, tmp_path / "runs" / "brand-fast",
                                   **{**FAST, "max_steps": 1, "batch_size": 1, "keep_checkpoints": 0}), settings)
    teacher_id = result.manifest["teacher"]["spec_id"]
    assert teacher_id.startswith("local-brand-model-") and result.manifest["licence"]["name"] == "brand-licence-1.0"
    assert (settings.models_dir / "teachers" / teacher_id).resolve() == brand.resolve()
    assert not (result.folder / "checkpoints").exists()
    catalog = tiny_catalog(settings)
    assert catalog.get(teacher_id).role == "teacher" and catalog.get("brand-fast").base == teacher_id
    engine = Engine(settings, catalog=catalog)
    out = engine.run(GenerationRequest(app="head", pipeline="txt2img", adapters=(), mode="fast", student="brand-fast",
                                       teacher=teacher_id, prompt="brandx", width=64, height=64))  # fmt: skip
    assert out.provenance.models[0].startswith("brand-fast@") and out.provenance.models[1].startswith(teacher_id)
    assert engine.availability("head", student="brand-fast", adapters=(), teacher=teacher_id)["student"]["available"]


def test_names_numbers_and_taken_ids_are_checked_before_loading(tiny_hub, photos, tmp_path):
    settings = settings_for(tiny_hub, tmp_path)
    base = DistillConfig("sd15", photos, tmp_path / "x", **FAST)
    with pytest.raises(InputError, match="'sd15' is a catalog entry's id"):
        distill(replace(base, name="sd15"), settings)
    with pytest.raises(InputError, match="kebab-case"):
        distill(replace(base, name="My Student"), settings)
    with pytest.raises(InputError, match="--max-steps must be at least 1"):
        distill(replace(base, max_steps=0), settings)
    with pytest.raises(InputError, match="multiple of 16"):
        distill(replace(base, resolution=72), settings)
    with pytest.raises(InputError, match="--w-min 9.0 is above --w-max 4.0"):
        distill(replace(base, w_min=9.0, w_max=4.0), settings)


# --------------------------------------------------------------------------------------------- the command line
@pytest.fixture
def tiny_cli_env(tiny_hub, tmp_path, monkeypatch):
    """STUDIO_CACHE_DIR whose tiny studio is the session's tiny hub (so `--tiny` does not rebuild it)."""
    from studio.engine.tiny import _fingerprint
    from studio.models import load_catalog

    hub = tmp_path / "cache" / "tiny" / "hub"
    hub.mkdir(parents=True)
    for repo in tiny_hub.iterdir():
        (hub / repo.name).symlink_to(repo)
    (hub / ".studio-tinyhub.json").write_text(json.dumps({"catalog": _fingerprint(load_catalog())}))
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path


def test_cli_distill_tiny_then_list_and_errors(tiny_cli_env, photos, capsys):
    out = tiny_cli_env / "D"
    code = main(["distill", "--tiny", "--images", str(photos), "--max-steps", "2", "--rank", "4", "--batch-size", "1",
                 "--samples", "0", "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["student"] == "d" and summary["steps"] == 2 and summary["teacher"] == "sd15"
    assert "--tiny --student d" in captured.err and "makeup" in captured.err
    # Tiny students live with the tiny studio, never in the real models folder.
    assert (tiny_cli_env / "cache" / "tiny" / "models" / "students" / "d").is_symlink()
    assert not (tiny_cli_env / "models" / "students").exists()
    assert main(["distill", "--list", "--tiny"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)["students"]] == ["d"]
    code = main(["distill", "--tiny", "--out", str(out), "--resume", "--max-steps", "3", "--rank", "4",
                 "--batch-size", "1", "--samples", "0"])  # resumes with the teacher and images of the run
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["resumed_from"] == 2
    assert main(["distill", "--teacher", "sd-15", "--images", str(photos), "--out", str(tiny_cli_env / "E")]) == 2
    assert capsys.readouterr().err.startswith("error: No teacher 'sd-15'")
    assert main(["run", "makeup", "--tiny", "--student", "nobody", "--source", str(photos / "coffee_cup.png")]) == 2
    assert "No student 'nobody'" in capsys.readouterr().err


@pytest.mark.heavy  # makeup on three photos, student and teacher: minutes on a loaded 2-core CPU
def test_cli_compare_runs_the_tiny_student_against_its_teacher(tiny_cli_env, capsys):
    from conftest import fixture

    photos = tiny_cli_env / "faces"
    photos.mkdir()
    shutil.copy(fixture("faces/face_woman_nomakeup_freckles_01.png"), photos)
    assert main(["distill", "--tiny", "--images", str(photos), "--max-steps", "2", "--out",
                 str(tiny_cli_env / "D")]) == 0  # fmt: skip
    capsys.readouterr()
    code = main(["compare", "makeup", "--tiny", "--student", "d", "--inputs", str(photos), "--preset", "berry",
                 "--out", str(tiny_cli_env / "cmp")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((tiny_cli_env / "cmp" / "report.json").read_text())
    provenance = report["inputs"]["face_woman_nomakeup_freckles_01.png"]["provenance"]
    assert provenance["student"]["models"][0].startswith("d@")
    assert provenance["teacher"]["models"][0].startswith("sd15@")

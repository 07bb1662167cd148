"""The model catalog validates on load, carries licences, and every entry resolves from a local cache."""

from __future__ import annotations

from dataclasses import replace

import pytest

from studio.engine.resolver import Resolver
from studio.engine.specs import (SCHEDULERS, CatalogError, FileSpec, Licence, ModelSpec, cite, scheduler,
                                 validate_catalog)  # fmt: skip
from studio.errors import ModelUnavailable
from studio.models import load_catalog
from studio.models.apps import APPS
from studio.models.catalog import ALL_SPECS


def test_catalog_loads_with_every_app_recipe():
    catalog = load_catalog()
    assert set(catalog.apps) == {"makeup", "tryon", "avatar", "style", "head"}
    roles = {s.role for s in catalog.specs.values()}
    assert {"teacher", "student", "adapter", "preview"} <= roles
    # doc §1 families: Lightning, Hyper-SD, LCM, TCD, DMD2, PCM, Turbo students are all catalogued.
    for prefix in ("lightning-", "hyper-", "lcm-", "tcd-", "dmd2-", "pcm-", "sdxl-turbo"):
        assert any(s.id.startswith(prefix) and s.role == "student" for s in catalog.specs.values()), prefix


def test_every_scheduler_name_exists_in_diffusers():
    import diffusers

    for name in SCHEDULERS:
        assert hasattr(diffusers, name), name
    for spec in ALL_SPECS:
        if spec.pipeline:
            assert hasattr(diffusers, spec.pipeline), spec.id


def test_defaults_are_commercial_and_noncommercial_models_are_labelled():
    catalog = load_catalog()
    for recipe in catalog.apps.values():
        for ref in recipe.default_ids():
            assert catalog.get(ref).licence.commercial, (recipe.app, ref)
    noncommercial = {s.id for s in ALL_SPECS if s.licence.noncommercial}
    assert {"dmd2-sdxl-4step-unet", "dmd2-sdxl-4step-lora", "sdxl-turbo"} <= noncommercial
    assert all(s.licence.name and s.licence.use for s in ALL_SPECS)


def test_catalog_facts_from_the_doc():
    catalog = load_catalog()
    lightning = catalog.get("lightning-sdxl-4step-lora")
    assert lightning.scheduler.cls == "EulerDiscreteScheduler"
    assert lightning.scheduler.kwargs == {"timestep_spacing": "trailing"}
    assert (lightning.steps, lightning.guidance, lightning.cfg) == (4, 0.0, False)
    assert catalog.get("lightning-sdxl-1step-unet").scheduler.kwargs["prediction_type"] == "sample"
    assert catalog.get("tcd-sdxl").eta == 0.3 and catalog.get("hyper-sd15-1step-lora").eta == 1.0
    assert catalog.get("dmd2-sdxl-4step-lora").timesteps == (999, 749, 499, 249)
    assert catalog.get("hyper-sdxl-1step-unet").timesteps == (800,)
    assert catalog.get("controlnet-mediapipe-face-sd15").subfolder == "diffusion_sd15"
    assert catalog.get("controlnet-mediapipe-face-sd15").variant == "fp16"
    assert catalog.get("ip-adapter-plus-sdxl-vit-h").image_encoder == "models/image_encoder"
    assert catalog.get("sd15").repo == "stable-diffusion-v1-5/stable-diffusion-v1-5"  # not the deleted runwayml id


def _spec(**overrides) -> ModelSpec:
    base = dict(id="x-lora", title="X", kind="lora", role="student", family="sd15", repo="o/r",
                files=(FileSpec("w.safetensors", 1.0),), licence=Licence("mit", "commercial"), base="sd15",
                scheduler=scheduler("LCMScheduler"), steps=4, guidance=1.0, step_range=(2, 8),
                sources=cite(scheduler="test", steps="test", guidance="test", step_range="test"))  # fmt: skip
    base.update(overrides)
    return ModelSpec(**base)


def test_validation_names_the_entry_and_the_problem():
    with pytest.raises(CatalogError, match=r"'x-lora': unknown scheduler 'LCMSchedular'"):
        _spec(scheduler=scheduler("LCMSchedular"))
    with pytest.raises(CatalogError, match=r"'x-lora': no file names"):
        _spec(files=())
    with pytest.raises(CatalogError, match=r"'x-lora': bad file name ''"):
        _spec(files=(FileSpec(""),))
    with pytest.raises(CatalogError, match=r"'x-lora': no source for guidance"):
        _spec(sources=cite(scheduler="test", steps="test", step_range="test"))
    with pytest.raises(CatalogError, match=r"'x-lora': step_range \(5, 8\) must contain the default steps=4"):
        _spec(step_range=(5, 8))
    with pytest.raises(CatalogError, match=r"'x-ip'.*image encoder file models/image_encoder/model.safetensors"):
        _spec(id="x-ip", kind="ip_adapter", role="adapter", scheduler=None, steps=None, guidance=None, step_range=None,
              image_encoder="models/image_encoder", files=(FileSpec("models/a.safetensors"),
                                                           FileSpec("models/image_encoder/config.json")))  # fmt: skip
    with pytest.raises(CatalogError, match=r"'X_Bad'.*kebab-case"):
        _spec(id="X_Bad")
    with pytest.raises(CatalogError, match=r"'x-lora': base 'nope' is not in the catalog"):
        validate_catalog([_spec(base="nope")], [])


def test_a_noncommercial_default_is_rejected():
    specs = list(ALL_SPECS)
    recipe = replace(APPS[2], student="dmd2-sdxl-4step-lora")
    with pytest.raises(CatalogError, match="defaults must be commercially usable"):
        validate_catalog(specs, [recipe])


def test_every_catalog_entry_resolves_from_the_tiny_hub(tiny_settings):
    resolver = Resolver(tiny_settings)
    for spec in ALL_SPECS:
        resolved = resolver.resolve(spec)
        assert resolved.source == "hf-cache"
        assert set(resolved.files) == {f.path for f in spec.files}
        for path, local in resolved.files.items():
            assert local == resolved.root / path and local.is_file()
        assert len(resolved.revision) == 40 and resolved.label.startswith(f"{spec.id}@")


def test_missing_weights_name_the_files_and_the_fetch_command(tmp_path):
    from studio.settings import Settings

    resolver = Resolver(Settings(hf_cache_dir=tmp_path / "empty", models_dir=tmp_path / "models", offline=True))
    spec = load_catalog().get("lcm-lora-sd15")
    with pytest.raises(ModelUnavailable) as info:
        resolver.resolve(spec, fetch_target="makeup")
    assert info.value.fetch_command == "studio fetch makeup"
    assert "pytorch_lora_weights.safetensors" in str(info.value) and "studio fetch makeup" in str(info.value)
    dmd2 = load_catalog().get("dmd2-sdxl-4step-lora")
    with pytest.raises(ModelUnavailable) as info:
        resolver.resolve(dmd2)
    assert info.value.fetch_command == "studio fetch dmd2-sdxl-4step-lora --include-noncommercial"


def test_local_weights_in_models_folder_and_explicit_paths(tmp_path, tiny_settings):
    from studio.settings import Settings

    catalog = load_catalog()
    cached = Resolver(tiny_settings)
    models = tmp_path / "models"
    # 1. mirrored repo layout under models/
    lora = catalog.get("lcm-lora-sd15")
    mirrored = models / lora.repo / lora.weights.path
    mirrored.parent.mkdir(parents=True)
    mirrored.write_bytes(cached.resolve(lora).file(lora.weights.path).read_bytes())
    # 2. a ComfyUI-style flat LoRA drop
    tcd = catalog.get("tcd-sdxl")
    (models / "loras").mkdir()
    flat = models / "loras" / "pytorch_lora_weights.safetensors"
    flat.write_bytes(b"not checked here")
    # 3. an explicit path for one id
    pcm = catalog.get("pcm-sd15-lcmlike")
    explicit = tmp_path / "my_pcm.safetensors"
    explicit.write_bytes(b"x")
    settings = Settings(hf_cache_dir=tmp_path / "empty", models_dir=models, offline=True,
                        model_paths=((pcm.id, explicit),))  # fmt: skip
    resolver = Resolver(settings)
    assert resolver.resolve(lora).source == "models" and resolver.resolve(lora).root == models / lora.repo
    assert resolver.resolve(tcd).file(tcd.weights.path) == flat
    assert resolver.resolve(pcm).file(pcm.weights.path) == explicit and resolver.resolve(pcm).source == "path"
    assert not resolver.is_available(catalog.get("sd15"))


def test_a_found_location_is_remembered_only_while_its_files_exist(tmp_path):
    """The engine resolves every call's models again; found ones are remembered, but a deleted file is noticed
    and weights that arrive while the studio runs are found on the next call."""
    from studio.settings import Settings

    lora = load_catalog().get("lcm-lora-sd15")
    resolver = Resolver(Settings(hf_cache_dir=tmp_path / "empty", models_dir=tmp_path / "models", offline=True))
    assert not resolver.is_available(lora)
    weights = tmp_path / "models" / lora.repo / lora.weights.path
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"x")
    assert resolver.resolve(lora).file(lora.weights.path) == weights
    assert resolver.resolve(lora) is resolver.resolve(lora)  # remembered
    weights.unlink()
    with pytest.raises(ModelUnavailable, match="pytorch_lora_weights.safetensors"):
        resolver.resolve(lora)

"""Long prompts reach the model whole: chunked CLIP encoding in the engine, on the tiny hub's real pipelines."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from studio.engine.engine import Engine
from studio.engine.prompts import chunk_long_prompts
from studio.engine.request import GenerationRequest
from studio.schema import Result

SIZE = 64
LONG = ", ".join(["portrait photo, professional makeup, bold classic red lipstick, soft charcoal to taupe eyeshadow",
                  "black eyeliner, soft peach blush, groomed dark brown eyebrows, even skin tone, light foundation",
                  "natural skin texture, sharp focus, realistic"])  # fmt: skip


@pytest.fixture(scope="module")
def engine(tiny_settings):
    return Engine(tiny_settings)


def generate(engine, app, prompt, negative="") -> Result:
    request = GenerationRequest(app=app, pipeline="txt2img", adapters=(), prompt=prompt, negative_prompt=negative,
                                seed=3, mode="fast", width=SIZE, height=SIZE)  # fmt: skip
    return [item for item in engine.generate(request) if isinstance(item, Result)][-1]


@pytest.mark.parametrize("app", ["head", "avatar"])  # SD1.5 and SDXL recipes
def test_a_long_prompt_is_encoded_in_chunks_and_nothing_is_cut(engine, app, caplog):
    with caplog.at_level(logging.WARNING):
        result = generate(engine, app, LONG, negative="blurry, " * 60)
    assert not any("truncated" in r.getMessage() for r in caplog.records), "CLIP cut part of the prompt"
    assert any("encoded in" in n and "chunks" in n for n in result.provenance.notes)
    # The words past the first chunk change the picture: the same prompt cut at the chunk boundary differs.
    short = generate(engine, app, LONG[:70], negative="blurry, " * 60)
    assert not np.array_equal(result.image, short.image)


def test_a_short_prompt_takes_the_pipelines_own_path(engine):
    result = generate(engine, "head", "a portrait")
    assert not any("chunks" in n for n in result.provenance.notes)


def test_chunks_hold_every_token_with_start_and_end_markers(engine):
    """Each chunk is start + up to 75 tokens + end, padded; the prompt and negative get the same count, and the
    first chunk is exactly what the pipeline's own encoding makes of the first 75 tokens."""
    from types import SimpleNamespace

    from transformers import CLIPTextModel, CLIPTokenizer

    from studio.models import load_catalog

    catalog = load_catalog()
    teacher = catalog.get(catalog.app("head").teacher)
    repo = teacher.repo
    where = {"cache_dir": engine.settings.hf_cache_dir, "local_files_only": True, "variant": teacher.variant}
    tokenizer = CLIPTokenizer.from_pretrained(repo, subfolder="tokenizer", **where)
    view = SimpleNamespace(tokenizer=tokenizer, text_encoder=CLIPTextModel.from_pretrained(repo, subfolder="text_encoder",
                                                                                           **where))  # fmt: skip
    kwargs = {"prompt": LONG, "negative_prompt": "blurry"}
    note = chunk_long_prompts(view, kwargs)
    ids = tokenizer(LONG, add_special_tokens=False).input_ids
    chunks = -(-len(ids) // 75)
    assert chunks > 1 and note and f"{chunks} chunks" in note and "prompt" not in kwargs
    assert kwargs["prompt_embeds"].shape[1] == 77 * chunks == kwargs["negative_prompt_embeds"].shape[1]
    first = tokenizer.decode(ids[:75])
    own_ids = tokenizer(first, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        own = view.text_encoder(own_ids)[0]
    assert torch.allclose(kwargs["prompt_embeds"][:, :77], own, atol=1e-5)

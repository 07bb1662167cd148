"""Prompts longer than CLIP's 77 tokens, encoded in chunks instead of cut.

A diffusers pipeline given a string prompt tokenizes it to CLIP's 77 positions and drops the rest ("The following
part of your input was truncated…"): the words at the end of a detailed prompt — the makeup's blush, brows and
skin — simply never reach the model. Here a long prompt is split into 75-token chunks, each encoded on its own
with its start and end tokens, and the chunks' embeddings are joined along the sequence axis, so the UNet's
cross-attention sees every word (the approach of the A1111 web UI and compel). The negative prompt is encoded to
the same number of chunks, because the pipeline stacks the two for classifier-free guidance.

Short prompts take the pipeline's own path, unchanged.
"""

from __future__ import annotations

import math

import torch


def _chunks(tokenizer, text: str, count: int) -> list[list[int]]:
    """`text`'s token ids as `count` chunks of `model_max_length` (start + ≤75 ids + end, padded)."""
    size = tokenizer.model_max_length - 2
    ids = tokenizer(text or "", add_special_tokens=False, truncation=False).input_ids
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = []
    for i in range(count):
        body = ids[i * size : (i + 1) * size]
        chunk = [tokenizer.bos_token_id, *body, tokenizer.eos_token_id]
        out.append(chunk + [pad] * (tokenizer.model_max_length - len(chunk)))
    return out


def _length(tokenizer, text: str | None) -> int:
    return len(tokenizer(text or "", add_special_tokens=False, truncation=False).input_ids)


def _encode(text_encoder, chunks: list[list[int]], device, penultimate: bool):
    """(sequence embeddings of all chunks joined, the first chunk's pooled output)."""
    embeds, pooled = [], None
    for chunk in chunks:
        ids = torch.tensor([chunk], device=device)
        out = text_encoder(ids, output_hidden_states=penultimate)
        embeds.append(out.hidden_states[-2] if penultimate else out[0])
        if pooled is None:
            pooled = out[0]  # the projected text embedding (used from the SDXL second encoder only)
    return torch.cat(embeds, dim=1), pooled


def chunk_long_prompts(view, kwargs: dict) -> str | None:
    """Replace `prompt` / `negative_prompt` in `kwargs` by chunked embeddings when either is longer than the
    pipeline's tokenizer takes; return a note for the provenance, or None when nothing was changed."""
    tokenizer = getattr(view, "tokenizer", None)
    encoder = getattr(view, "text_encoder", None)
    prompt, negative = kwargs.get("prompt"), kwargs.get("negative_prompt")
    if tokenizer is None or encoder is None or not isinstance(prompt, str):
        return None
    size = tokenizer.model_max_length - 2
    longest = max(_length(tokenizer, prompt), _length(tokenizer, negative))
    if longest <= size:
        return None
    count = math.ceil(longest / size)
    device = getattr(view, "_execution_device", None) or next(encoder.parameters()).device
    tokenizer_2, encoder_2 = getattr(view, "tokenizer_2", None), getattr(view, "text_encoder_2", None)
    with torch.no_grad():
        if encoder_2 is None:  # SD1.5 / SD2: the last hidden state of one encoder
            pos, _ = _encode(encoder, _chunks(tokenizer, prompt, count), device, penultimate=False)
            neg, _ = _encode(encoder, _chunks(tokenizer, negative, count), device, penultimate=False)
            extra = {}
        else:  # SDXL: both encoders' penultimate states side by side, pooled from the second
            pos_1, _ = _encode(encoder, _chunks(tokenizer, prompt, count), device, penultimate=True)
            pos_2, pooled = _encode(encoder_2, _chunks(tokenizer_2, prompt, count), device, penultimate=True)
            neg_1, _ = _encode(encoder, _chunks(tokenizer, negative, count), device, penultimate=True)
            neg_2, neg_pooled = _encode(encoder_2, _chunks(tokenizer_2, negative, count), device, penultimate=True)
            pos, neg = torch.cat([pos_1, pos_2], dim=-1), torch.cat([neg_1, neg_2], dim=-1)
            if not negative and getattr(view.config, "force_zeros_for_empty_prompt", False):
                neg, neg_pooled = torch.zeros_like(neg), torch.zeros_like(neg_pooled)  # the pipeline's own rule
            extra = {"pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": neg_pooled}
    dtype = encoder.dtype
    kwargs.pop("prompt")
    kwargs.pop("negative_prompt", None)
    kwargs.update(prompt_embeds=pos.to(dtype), negative_prompt_embeds=neg.to(dtype),
                  **{k: v.to(dtype) for k, v in extra.items()})  # fmt: skip
    return (f"The prompt is {longest} tokens, past CLIP's {size}: it was encoded in {count} chunks so every word "
            "reaches the model (none was cut).")

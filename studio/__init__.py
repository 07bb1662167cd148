"""Distill Studio: generative apps on distilled few-step diffusion students."""

"""Avatar: identity-kept portraits from 1–4 selfies, and a live puppet (see app.py)."""

"""The diffusion engine: catalog specs, weights resolver, `studio fetch`, loader, previews and `Engine`.

Import what you need from the submodules; importing this package loads nothing heavy (no torch, no
diffusers) so the UI can start fast:

    from studio.engine.engine import Engine
    from studio.engine.request import GenerationRequest

See `studio.engine.engine` for the API the apps call.
"""

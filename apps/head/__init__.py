"""Head stylization app: `app.py` (parameters, run, live, batch, bench), `lite.py` (the CPU tier: masks, warps,
composite), `toon.py` (the preset filters), `geometry.py` (the mesh-driven caricature), `style.py` (a style
reference's palette and line character), `diffusion.py` (student / teacher), `report.py` (metrics, detail images)."""

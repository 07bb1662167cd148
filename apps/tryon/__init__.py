"""Virtual try-on app: `app.py` (parameters, run, live, batch), `garment.py` (the product shot's mask and
landmarks), `person.py` (the body side: fit points, occluders, shading), `warp.py` (thin-plate spline and sleeve
maps), `lite.py` (the CPU tier), `report.py` (metrics and detail images), `live.py` (webcam), `bench.py`."""

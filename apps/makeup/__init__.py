"""Makeup transfer app: `app.py` (parameters, run, live, batch), `lite.py` (the CPU tier), `presets.py` (named
looks), `report.py` (metrics and detail images), `live.py` (webcam tracking), `bench.py` (speed)."""

"""Runs examples/hub_api.py as if FastAPI were not installed, to check that
it still loads and that ``!api start`` says what to install."""

import os
import runpy
import sys

sys.modules["fastapi"] = None  # makes ``import fastapi`` raise ImportError

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "..", "..", "examples", "hub_api.py")
globals().update(runpy.run_path(EXAMPLE))

"""Kills its own process while being loaded."""

import os

print("about to exit", flush=True)
os._exit(1)

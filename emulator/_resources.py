"""Where the files shipped beside the code are: the runtime adapters (`runtimes/`) and the starter
functions (`starters/`).

In a checkout they are top-level folders next to `emulator/`. A built wheel carries them inside
the package, as `emulator/_bundled/{runtimes,starters}` (setup.py copies them there at build
time), because a wheel installs nothing outside its packages that the code could find again.
The bundled copy wins: beside an installed package, `site-packages/runtimes` may be anything.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR_NAME = "_bundled"


def resource_dir(name: str) -> Path:
    """The folder `name` ("runtimes" or "starters") as shipped with this copy of the emulator."""
    bundled = PACKAGE_DIR / BUNDLED_DIR_NAME / name
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / name


RUNTIMES_DIR = resource_dir("runtimes")
STARTERS_DIR = resource_dir("starters")

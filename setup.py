"""Metadata and options are in setup.cfg. This file only puts `runtimes/` and `starters/` (top-level
folders of the repository) into the built package, as emulator/_bundled/, where
emulator/_resources.py finds them in an installed wheel."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = ("runtimes", "starters")
# Left behind by local runs and builds, never part of an adapter or a starter.
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", ".jvm-build", "build", ".venv")


class BuildPyWithResources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout
        for name in RESOURCES:
            target = Path(self.build_lib) / "emulator" / "_bundled" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(ROOT / name, target, ignore=JUNK)


setup(cmdclass={"build_py": BuildPyWithResources})

"""Loaded by every Python process of the dress rehearsal (this folder leads its PYTHONPATH).

Installs post-import hooks only; nothing is imported eagerly, so Snakemake and the CLI
start as fast as without it. What the hooks change is documented in rehearsal_standins.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from pathlib import Path

import rehearsal_standins as standins


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``hooks[name](module)`` right after module ``name`` has executed."""

    def __init__(self, hooks):
        self.hooks = hooks

    def find_spec(self, name, path, target=None):
        if name not in self.hooks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        hook, exec_module = self.hooks.pop(name), spec.loader.exec_module

        def exec_then_hook(module):
            exec_module(module)
            hook(module)

        spec.loader.exec_module = exec_then_hook
        return spec


_TRUST = standins.trust_file()
_HOOKS = {
    "open_clip": lambda m: standins.register_open_clip_configs(
        m, Path(os.environ.get("REHEARSAL_OPEN_CLIP_CONFIGS", "/tmp/rehearsal-open-clip-configs"))),
    "torchvision.models": lambda m: standins.register_tiny_vits(m._api),
}
for _module in ("cifar", "stl10", "flowers102", "imagenet"):
    _HOOKS[f"torchvision.datasets.{_module}"] = lambda m: standins.trust_md5(m, _TRUST)
sys.meta_path.insert(0, _AfterImport(_HOOKS))

"""Builders shared by the test packages: tiny models and datasets in their real on-disk formats
(importable as ``helpers.*``: tests/ is on sys.path via its conftest)."""

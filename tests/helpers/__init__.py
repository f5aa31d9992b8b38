"""Helpers shared by test packages (importable as ``helpers.*``: tests/ is on sys.path via its conftest)."""

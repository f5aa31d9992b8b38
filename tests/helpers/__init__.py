"""Builders shared by the test packages: tiny models and datasets in their real on-disk formats."""

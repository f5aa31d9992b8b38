"""The output files of one effective-robustness fit, named as the rule names them."""

from pathlib import Path


def fit_outputs(directory: Path) -> tuple[Path, Path, Path]:
    """``models.csv``, ``parameters.csv`` and ``fit.json`` of a fit written to ``directory``."""
    return directory / "models.csv", directory / "parameters.csv", directory / "fit.json"

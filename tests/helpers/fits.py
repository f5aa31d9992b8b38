"""The files of effective-robustness fits, named as the rules name them."""

from pathlib import Path


def fit_outputs(directory: Path) -> tuple[Path, Path, Path]:
    """``models.csv``, ``parameters.csv`` and ``fit.json`` of a fit written to ``directory``."""
    return directory / "models.csv", directory / "parameters.csv", directory / "fit.json"


def fit_inputs(*directories: Path) -> tuple[list[Path], list[Path]]:
    """The ``fit.json`` and the ``models.csv`` of each fit (the inputs of Table 4 and Figure 6)."""
    return [d / "fit.json" for d in directories], [d / "models.csv" for d in directories]

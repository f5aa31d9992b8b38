"""The trend of Taori et al.'s robustness testbed, fitted on its published accuracies.

At paper scale Figure 6's trends come, as in the paper, from the hundreds of models of
the testbed (Taori et al., NeurIPS 2020), not from the handful of models we evaluate:
``data/testbed_top1.csv`` holds the testbed's published top-1 accuracies of its 335
models (source in ``data/README.md``). Which of them are drawn and which are fitted is
a named selection (:data:`SELECTIONS`), after the testbed's own plotting code:

* ``standard``: every model drawn, the ``standard``-training ones fitted (ImageNetV2,
  ObjectNet: one line in logit space);
* ``imagenet_a``: drawn when the class-subsampled ID accuracy is at least 75%, the
  name does not contain ``subsample`` and it is not ResNet-50 (ImageNet-A was built
  against it: 0% by construction); fitted: the drawn ``standard`` models whose names
  contain neither ``aws`` nor ``batch64``, split at the pivot 91.86% (ResNet-50's
  class-subsampled accuracy).

Our own zoo then serves as a check of our evaluation code: a zoo model that the testbed
also evaluated should measure, on our images, within the 99.5% Clopper-Pearson interval
around its published accuracy (:func:`published_check`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .._registry import Registry
from .fit import MIN_POINTS, TrendFit, fit_linear, fit_piecewise
from .intervals import DEFAULT_ALPHA, clopper_pearson
from .logit import BoundaryPolicy

__all__ = ["TESTBED_FILE", "TESTBED_COLUMNS", "TESTBED_PREFIX", "SELECTIONS", "load_testbed", "published_points",
           "fit_testbed", "published_check"]

TESTBED_FILE = "data/testbed_top1.csv"
TESTBED_COLUMNS = ("model", "training", "imagenet_val", "imagenetv2_matched_frequency", "imagenet_val_on_a_classes",
                   "imagenet_a", "imagenet_val_on_objectnet_classes", "objectnet")
#: Prefix of the testbed's model names inside a fit, so that they never collide with
#: our zoo's (our ``resnet18`` is measured against the trend; ``testbed:resnet18`` is in it).
TESTBED_PREFIX = "testbed:"

Selection = Callable[[pd.DataFrame, str], tuple[pd.Series, pd.Series]]
SELECTIONS: Registry[Selection] = Registry("robustness.fits.<fit>.testbed.selection")


@SELECTIONS.register("standard")
def _standard(frame: pd.DataFrame, id_column: str) -> tuple[pd.Series, pd.Series]:
    """Every model drawn; the standard-training ones fitted."""
    return pd.Series(True, index=frame.index), frame["training"] == "standard"


@SELECTIONS.register("imagenet_a")
def _imagenet_a(frame: pd.DataFrame, id_column: str) -> tuple[pd.Series, pd.Series]:
    """The testbed's ImageNet-A figure: ID >= 75%, no subsampled models, no ResNet-50."""
    name = frame["model"].str
    plotted = (frame[id_column] >= 75.0) & ~name.contains("subsample") & (frame["model"] != "resnet50")
    fitted = plotted & (frame["training"] == "standard") & ~name.contains("aws") & ~name.contains("batch64")
    return plotted, fitted


def load_testbed(path: str | Path | None = None) -> pd.DataFrame:
    """The testbed's table (accuracies in %); the packaged copy unless ``path`` is given.

    Raises:
        ValueError: a column is missing, a model repeats, or an accuracy is not in [0, 100].
    """
    if path is None:
        with resources.files(__package__).joinpath(TESTBED_FILE).open() as handle:
            frame, where = pd.read_csv(handle), f"diffusion_classifier/robustness/{TESTBED_FILE}"
    else:
        frame, where = pd.read_csv(path), str(path)
    missing = [c for c in TESTBED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{where} lacks column(s) {missing}; expected {list(TESTBED_COLUMNS)}")
    if frame["model"].duplicated().any():
        raise ValueError(f"{where}: model {frame.loc[frame['model'].duplicated(), 'model'].iloc[0]!r} repeats")
    values = frame[list(TESTBED_COLUMNS[2:])]
    if values.isna().any().any() or ((values < 0) | (values > 100)).any().any():
        raise ValueError(f"{where}: accuracies must be percentages in [0, 100] with no gaps")
    return frame


def published_points(frame: pd.DataFrame, id_column: str, ood_column: str, selection: str) -> pd.DataFrame:
    """The drawn testbed models of one shift, accuracies as fractions, ``in_fit`` marked.

    Returns:
        Columns ``model`` (prefixed :data:`TESTBED_PREFIX`), ``training``,
        ``id_accuracy``, ``ood_accuracy`` (in [0, 1]), ``in_fit``.
    """
    for column in (id_column, ood_column):
        if column not in TESTBED_COLUMNS[2:]:
            raise ValueError(f"unknown testbed column {column!r}; known: {list(TESTBED_COLUMNS[2:])}")
    plotted, fitted = SELECTIONS.get(selection)(frame, id_column)
    part = frame[plotted]
    return pd.DataFrame({"model": TESTBED_PREFIX + part["model"], "training": part["training"],
                         "id_accuracy": part[id_column] / 100.0, "ood_accuracy": part[ood_column] / 100.0,
                         "in_fit": fitted[plotted].to_numpy()}).reset_index(drop=True)


def fit_testbed(points: pd.DataFrame, *, pivot: float | None = None, policy: BoundaryPolicy = "exclude",
                min_points: int = MIN_POINTS) -> TrendFit:
    """OLS in logit space over the points marked ``in_fit``; piecewise at ``pivot`` if given."""
    fitted = points[points["in_fit"]]
    args = (fitted["id_accuracy"].to_numpy(), fitted["ood_accuracy"].to_numpy(), fitted["model"].tolist())
    if pivot is None:
        return fit_linear(*args, policy=policy, min_points=min_points)
    return fit_piecewise(*args, pivot=pivot, policy=policy, min_points=min_points)


def published_check(models: pd.DataFrame, frame: pd.DataFrame, id_column: str, ood_column: str,
                    names: dict[str, str] | None = None, alpha: float = DEFAULT_ALPHA) -> pd.DataFrame:
    """Compare each measured zoo model with the testbed's published accuracy of the same model.

    A measurement of ``k`` of ``n`` images agrees when it lies inside the ``1 - alpha``
    Clopper-Pearson interval of the published accuracy at our ``n`` (the interval of
    ``round(published * n)`` of ``n``): beyond it, our preprocessing, weights or labels
    differ from the testbed's.

    Args:
        models: ``model``, ``id_correct``, ``id_total``, ``ood_correct``, ``ood_total`` per zoo model.
        frame: The testbed table (:func:`load_testbed`).
        id_column, ood_column: The testbed columns of the two settings.
        names: Zoo name -> testbed name where they differ; otherwise the same name, if the
            testbed has it.
        alpha: Two-sided level (0.005 = 99.5%).

    Returns:
        Per zoo model: ``testbed_name`` ("" if not in the testbed), ``published_id``,
        ``published_ood`` (fractions) and ``published_check`` ("agrees", "not in the
        testbed", or which side lies outside the interval).
    """
    names = names or {}
    published = frame.set_index("model")
    rows = []
    for _, row in models.iterrows():
        name = names.get(row["model"], row["model"])
        if name not in published.index:
            rows.append({"testbed_name": "", "published_id": np.nan, "published_ood": np.nan,
                         "published_check": "not in the testbed"})
            continue
        outside = []
        values = {}
        for side, column in (("id", id_column), ("ood", ood_column)):
            p, k, n = published.loc[name, column] / 100.0, int(row[f"{side}_correct"]), int(row[f"{side}_total"])
            low, high = clopper_pearson(int(round(p * n)), n, alpha=alpha)
            values[side] = p
            if not low <= k / n <= high:
                outside.append(f"{side.upper()} {100 * k / n:.2f}% outside [{100 * low:.2f}, {100 * high:.2f}] "
                               f"around the published {100 * p:.2f}%")
        rows.append({"testbed_name": name, "published_id": values["id"], "published_ood": values["ood"],
                     "published_check": "; ".join(outside) or "agrees"})
    return pd.DataFrame(rows, index=models.index)

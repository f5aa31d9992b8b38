"""Table 1: zero-shot accuracy of every method on every dataset, the paper's beside ours.

Each cell is read from one summary JSON (the Diffusion Classifier's aggregate summary,
or a baseline's summary with the same keys, see ``baselines.summary``). A method x dataset
without a summary is "n/a (not run)"; a summary whose ``status`` is not ``ok`` is
"n/a (<its reason>)". The metric of a column is the dataset's benchmark convention
(``data.paper_settings``: mean per class for Aircraft, Pets, Flowers; top-1 elsewhere
and for datasets outside the paper).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .cells import side_by_side
from .paper_values import paper_notes, paper_value

__all__ = ["TABLE1_ROWS", "Table1Row", "NOT_RUN", "table1_metric", "table1_cells", "table1_display",
           "table1_caption"]

NOT_RUN = "not run"
_METRIC_KEYS = {"top1": "accuracy", "mean_per_class": "mean_per_class_accuracy"}


@dataclass(frozen=True)
class Table1Row:
    """A method of Table 1: key (paper values, sources), label, and whether it is zero-shot."""

    key: str
    label: str
    zero_shot: bool


#: The paper's rows, in its order.
TABLE1_ROWS: tuple[Table1Row, ...] = (
    Table1Row("synthetic_sd_data", "Synthetic SD Data", True),
    Table1Row("sd_features", "SD Features", False),
    Table1Row("diffusion_classifier", "Diffusion Classifier", True),
    Table1Row("clip_rn50", "CLIP ResNet-50", True),
    Table1Row("openclip_vith14", "OpenCLIP ViT-H/14", True),
)


def table1_metric(dataset: str) -> str:
    """``top1`` or ``mean_per_class``: the paper's convention for ``dataset``."""
    from ..data.paper_settings import PAPER_SETTINGS

    setting = PAPER_SETTINGS.get(dataset)
    return setting.accuracy if setting is not None else "top1"


def _cell(summary_path: str | Path | None, metric: str) -> dict:
    if summary_path is None:
        return {"ours": None, "note": NOT_RUN}
    path = Path(summary_path)
    summary = json.loads(path.read_text())
    if summary.get("status", "ok") != "ok":
        return {"ours": None, "note": summary.get("reason") or "not available",
                "detail": summary.get("detail")}
    key = _METRIC_KEYS[metric]
    if summary.get(key) is None:
        raise ValueError(f"{path}: status ok but no {key!r}; every Table 1 summary needs "
                         f"{sorted(_METRIC_KEYS.values())}")
    cell = {"ours": 100.0 * float(summary[key]), "note": _trained_on(summary), "num_images": summary.get("num_images")}
    if metric == "top1" and summary.get("accuracy_ci_low") is not None:
        cell.update(ci_low=100.0 * summary["accuracy_ci_low"], ci_high=100.0 * summary["accuracy_ci_high"])
    return cell


def _trained_on(summary: dict) -> str:
    """Where a classifier learned from, when not from the column's own train split (else "")."""
    if not summary.get("train_dataset"):
        return ""
    note = f"classifier trained on {summary['num_train_images']:,} {summary['train_dataset']} images"
    if summary.get("classifier_from"):
        note += f" (the {summary['classifier_from']} column's classifier)"
    return note


def table1_cells(sources: Mapping[str, Mapping[str, str | Path]], datasets: Sequence[str]) -> pd.DataFrame:
    """One row per method x dataset: our value, the paper's, and why a value is missing.

    Args:
        sources: Row key -> dataset -> summary JSON. Rows or datasets absent are "not run".
        datasets: The columns, in order.

    Returns:
        Columns method, method_key, zero_shot, dataset, metric, ours, ci_low, ci_high,
        num_images, paper, note (percentages; ``ours`` NaN where ``note`` says why).
    """
    known = {row.key for row in TABLE1_ROWS}
    unknown = sorted(set(sources) - known)
    if unknown:
        raise ValueError(f"Table 1 sources name unknown row(s) {unknown}; rows are {sorted(known)}")
    records = []
    for row in TABLE1_ROWS:
        for dataset in datasets:
            metric = table1_metric(dataset)
            cell = _cell(sources.get(row.key, {}).get(dataset), metric)
            records.append({
                "method": row.label, "method_key": row.key, "zero_shot": row.zero_shot, "dataset": dataset,
                "metric": metric, "ours": cell["ours"], "ci_low": cell.get("ci_low"),
                "ci_high": cell.get("ci_high"), "num_images": cell.get("num_images"),
                "paper": paper_value("table1", row.key, dataset), "note": cell["note"],
            })
    return pd.DataFrame.from_records(records)


def table1_display(cells: pd.DataFrame) -> pd.DataFrame:
    """The wide table of the paper (methods x datasets), ours and the paper's side by side."""
    return side_by_side(cells, "dataset", list(dict.fromkeys(cells["dataset"])), lambda part: {
        "Method": part["method"].iloc[0], "Zero-shot?": "yes" if part["zero_shot"].iloc[0] else "no"})


def table1_caption(cells: pd.DataFrame) -> str:
    """Metric per column, where the paper's values come from, and what is missing and why."""
    metrics = dict(zip(cells["dataset"], cells["metric"]))
    missing = cells[cells["ours"].isna()]
    reasons = {}
    for (method, note), _ in missing.groupby(["method", "note"], sort=False):
        reasons.setdefault(method, []).append(note)
    lines = [
        "Zero-shot classification accuracy (%): ours beside the paper's Table 1 (— = dataset not in the "
        "paper). Metric per column: " + ", ".join(f"{d} {m.replace('_', ' ')}" for d, m in metrics.items()) + ".",
        "SD Features is not zero-shot (trained on the labelled training set), as in the paper.",
    ]
    lines.extend(note for dataset, note in paper_notes("table1").items() if dataset in metrics)
    elsewhere = cells[cells["ours"].notna() & (cells["note"] != "")]
    if not elsewhere.empty:
        lines.append("Trained on another dataset: " + "; ".join(
            f"{r.method} {r.dataset}: {r.note}" for r in elsewhere.itertuples()) + ".")
    if reasons:
        lines.append("Not available: " + "; ".join(f"{m} ({', '.join(r)})" for m, r in reasons.items()) + ".")
    return "\n\n".join(lines)


"""Stages ``audit_filters`` (one dataset) and ``make_table2`` (all audited datasets).

``audit_filters`` scores one split with the three LAION filters of SD 2.0 and writes the
per-image scores (Parquet) and a JSON with the counts, every undecodable image, which
filters were computed and why the others were not, the thresholds and the weight-file
checksums. Filters whose weights are not in ``weights_dir`` are "n/a": never a guess. A
weight file that is present but has the wrong checksum stops the stage.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ._outputs import table_stem
from ._registry import stage

if TYPE_CHECKING:
    from ..specs import AuditSpec

__all__ = ["audit_filters", "make_table2"]

log = logging.getLogger(__name__)

CLIP_UNAVAILABLE = "CLIP ViT-L/14 not available offline"


def _missing_weights(spec: AuditSpec, name: str) -> dict:
    from ..audit import EMBEDDING_FILTERS, get_weights_spec
    from ..baselines import WEIGHTS_UNAVAILABLE

    weights = get_weights_spec(EMBEDDING_FILTERS[name].weights)
    path = Path(spec.weights_dir) / weights.filename
    return {"available": False, "reason": WEIGHTS_UNAVAILABLE,
            "detail": f"{path} not found; obtain it from {weights.url} ({weights.description})"}


@stage("audit-filters", threads=True)
def audit_filters(dataset_dir: str | Path, audit: dict, output_scores: str | Path, output_summary: str | Path,
                  dataset_name: str | None = None) -> dict:
    """Audit one prepared dataset's split and write its scores and summary.

    Args:
        dataset_dir: Prepared dataset (manifest format).
        audit: The ``audit:`` config section.
        output_scores: Per-image scores, Parquet (``audit.SCORE_COLUMNS``).
        output_summary: JSON summary.
        dataset_name: Name in the workflow config (default: the dataset's own name).

    Returns:
        The summary.

    Raises:
        ChecksumMismatchError: A weight file differs from its recorded digest.
        UserError: ``required`` is set and a filter cannot be computed.
    """
    import pandas as pd

    from ..artifacts import write_frame, code_version, write_json
    from ..audit import (
        EMBEDDING_FILTERS, decode_failures, load_clip_l14_embedder, load_filter_heads, score_manifest,
        summarize_scores,
    )
    from ..data import load_dataset
    from ..errors import UserError
    from ..specs import AuditSpec, from_dict, resolve_device

    spec = from_dict(AuditSpec, audit, "audit")
    config = spec.audit_config()
    dataset = load_dataset(dataset_dir)
    name = dataset_name or dataset.name
    rows = dataset.split(spec.split)
    device = resolve_device(spec.device)

    filters: dict[str, dict] = {"resolution": {"available": True,
                                               "source": "manifest orig_width / orig_height"}}
    heads = load_filter_heads(spec.weights_dir, device, expected_sha256=spec.sha256)
    filters.update({n: _missing_weights(spec, n) for n in EMBEDDING_FILTERS if n not in heads})
    embed = None
    if heads:
        try:
            embed = load_clip_l14_embedder(device, pretrained=spec.clip_checkpoint, cache_dir=spec.clip_cache_dir)
        except (ImportError, RuntimeError) as exc:
            filters.update({n: {"available": False, "reason": CLIP_UNAVAILABLE, "detail": str(exc)} for n in heads})
            heads = {}
    filters.update({n: {"available": True, "weights": asdict(head.check)} for n, head in heads.items()})
    unavailable = {n: f["detail"] for n, f in filters.items() if not f["available"]}
    if unavailable and spec.required:
        raise UserError(
            f"audit.required is set but filter(s) cannot be computed: {unavailable}; put the weight "
            "files in audit.weights_dir (and CLIP ViT-L/14 where open_clip finds it), or unset audit.required"
        )
    for n, detail in unavailable.items():
        log.warning("filter %s reported as n/a: %s", n, detail)

    scores = score_manifest(rows, dataset.root, embed, heads, config)
    write_frame(scores, output_scores)
    failures = decode_failures(scores)
    summary = {
        "dataset": name,
        "split": spec.split,
        "num_images": len(scores),
        "decode_errors": len(failures),
        "decode_failures": failures.to_dict(orient="records"),
        "filters": filters,
        "shares": {k: (None if pd.isna(v) else v) for k, v in summarize_scores(scores).items()},
        "config": config.to_dict(),
        "device": str(device),
        "code_version": code_version(),
    }
    write_json(output_summary, summary)
    return summary


@stage("make-table2")
def make_table2(
    scores_paths: list[str | Path], summary_paths: list[str | Path], output_md: str | Path, output_csv: str | Path
) -> tuple:
    """Write ``output_md`` (paper layout) and ``output_csv`` (one row per cell).

    Args:
        scores_paths: Per-image audit scores, one per dataset.
        summary_paths: The matching audit summaries, same order.
        output_md: The table in Markdown (rounded, with its caption).
        output_csv: The table in CSV (full precision); the two share a stem.
    """
    import pandas as pd

    from ..reporting.cells import write_cells_and_display
    from ..reporting.table2 import table2_caption, table2_cells, table2_display

    if len(scores_paths) != len(summary_paths):
        raise ValueError(f"{len(scores_paths)} score files but {len(summary_paths)} summaries: pass one of each "
                         "per dataset")
    audits, scores = {}, {}
    for scores_path, summary_path in zip(scores_paths, summary_paths):
        audit = json.loads(Path(summary_path).read_text())
        audits[audit["dataset"]] = audit
        scores[audit["dataset"]] = pd.read_parquet(scores_path)
    cells = table2_cells(scores, audits)
    return write_cells_and_display(
        cells, table2_display(cells), table2_caption(audits), table_stem(output_md, output_csv)
    )

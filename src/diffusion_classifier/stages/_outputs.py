"""The output paths a rule declares, checked against what a stage's writer names.

A rule passes every output as ``{output.name}``: file names are decided once, in
the rule. The table writers of :mod:`diffusion_classifier.reporting` still take
one stem and add ``.md`` / ``.csv``; :func:`table_stem` is where the two declared
paths meet that convention, refusing paths it would not write.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["table_stem"]


def table_stem(output_md: str | Path, output_csv: str | Path) -> Path:
    """The stem of ``output_md`` and ``output_csv`` (``<stem>.md``, ``<stem>.csv``)."""
    from ..errors import UserError

    md, csv = Path(output_md), Path(output_csv)
    if md.suffix != ".md" or csv.suffix != ".csv" or md.with_suffix("") != csv.with_suffix(""):
        raise UserError(f"--output-md {md} and --output-csv {csv}: a table is written as <stem>.md and "
                        "<stem>.csv of one stem; declare the rule's outputs that way")
    return md.with_suffix("")

"""The output paths a rule declares, checked against what a stage's writer names.

A rule passes every output as ``{output.name}``: file names are decided once, in
the rule. The table writers of :mod:`diffusion_classifier.reporting` still take
one stem and add ``.md`` / ``.csv``; :func:`table_stem` is where the two declared
paths meet that convention, refusing paths it would not write.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["table_stem", "table_and_figure"]


def table_stem(output_md: str | Path, output_csv: str | Path, flags: str = "") -> Path:
    """The stem of ``output_md`` and ``output_csv`` (``<stem>.md``, ``<stem>.csv``).

    ``flags`` names the option(s) that gave them in an error (default: ``--output-md``, ``--output-csv``).
    """
    from ..errors import UserError

    md, csv = Path(output_md), Path(output_csv)
    if md.suffix != ".md" or csv.suffix != ".csv" or md.with_suffix("") != csv.with_suffix(""):
        given = f"{flags} {md} {csv}" if flags else f"--output-md {md} and --output-csv {csv}"
        raise UserError(f"{given}: a table is written as <stem>.md and <stem>.csv of one stem; declare the "
                        "rule's outputs that way")
    return md.with_suffix("")


def table_and_figure(paths: list[str | Path], flag: str) -> tuple[Path, Path]:
    """The table stem and the figure of ``paths`` = ``<stem>.md``, ``<stem>.csv``, ``<figure>.png``."""
    from ..errors import UserError

    if len(paths) != 3 or Path(paths[2]).suffix != ".png":
        raise UserError(f"{flag} {' '.join(map(str, paths))}: give a table's .md and .csv and a figure's .png, "
                        "in that order, as the rule declares them")
    return table_stem(paths[0], paths[1], flag), Path(paths[2])

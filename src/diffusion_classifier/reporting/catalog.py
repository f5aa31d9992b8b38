"""The catalog of the paper's artifacts: one entry per table and figure, and what follows from it.

Every table and figure of the paper (``table1`` .. ``table5``, ``fig2`` .. ``fig6``) and
of the miniature's own studies (``classification``, ``zeroshot``, ...) is one entry of
``catalog.yaml``: where the paper shows it, the rule that writes it, the config sections
that ask for it, whether its rule needs a GPU, its file names, its report caption and
category, the headline columns it contributes to the metrics file and the paper's
reported values. The workflow (``common.smk``: targets, output paths, report captions),
the metrics file (:mod:`.metrics`), the paper's values beside ours (:mod:`.paper_values`)
and the tables-only profile (kept equal by a test) all read it here, so that a fact
about an artifact is written once.

Torch- and pandas-free: ``common.smk`` imports it while Snakemake parses the workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .._registry import Registry

__all__ = ["CATALOG_FILE", "TABLE_FILES", "MetricTable", "Artifact", "artifacts", "artifact", "CATEGORY_OF_FOLDER"]

CATALOG_FILE = "catalog.yaml"

# A table's files (reporting.tables.write_table writes them; pandas-free here): the CSV, and
# what a reader sees, Markdown and the HTML that the report shows inline.
TABLE_FILES = (".md", ".csv", ".html")

# The report's category of a file by its folder under the results directory.
CATEGORY_OF_FOLDER = {"tables": "Tables", "figures": "Figures", "timing": "Timing"}


@dataclass(frozen=True)
class MetricTable:
    """Which columns of a table's CSV name a row, and which of its numbers the metrics files hold.

    Attributes:
        key: The columns naming a row (joined by ``/``).
        values: The columns of every row in the detail file (``metrics_detail.json``).
        headline: The columns in the headline file (``metrics.json``, what ``dvc metrics
            show`` prints): none leaves the table out of it.
        where: Column -> the values a row needs to be a headline row (none: every row).
    """

    key: tuple[str, ...]
    values: tuple[str, ...]
    headline: tuple[str, ...] = ()
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifact:
    """One table or figure.

    Attributes:
        name: Catalog name: ``table1`` .. ``table5``, ``fig2`` .. ``fig6``, or a study's name.
            A table's files are named after it (``tables/<name>.md``); a figure's files
            start with it (``figures/fig2_noise_pairing.png``).
        paper: Where the paper shows it ("Table 1 (Sec. 6.1)"), or "beyond the paper".
        title: One line on what it shows.
        rule: The workflow rule that writes it (several artifacts may share one).
        requires: Dotted config sections that ask for it: the workflow makes it when every
            one is present and non-empty (none: always).
        gpu: Whether its rule runs a model itself; the tables-only profile leaves such
            rules out, so the artifact is then made only where a GPU is.
        files: Its files, relative to the results directory; ``{dataset}`` expands over the
            datasets of the config list ``per_dataset_of``.
        report: Suffixes of the files shown in the Snakemake report (HTML tables and PNG
            figures: it shows both inline, Markdown only as a download).
        category: The report's category (default: by folder, :data:`CATEGORY_OF_FOLDER`).
        caption: The report's caption (reStructuredText).
        metrics: Its CSV's row key and the columns of the metrics files (None: none).
        values: The paper's reported numbers, row -> column -> value (percent).
        notes: Column -> how our evaluation set relates to the paper's.
        per_dataset_of: Config list whose runs' datasets ``{dataset}`` expands over.
        frame: ``module:function`` building the table from its inputs. A table with one is
            made by the generic rule ``make_tables`` (stage ``make-tables``, :meth:`build`):
            it needs no rule or stage of its own.
        inputs: The workflow's input kinds (``common.smk``: ``ARTIFACT_INPUTS``) whose JSON
            files are the ``frame`` function's arguments, in order.
        table_caption: The caption line of the Markdown table a ``frame`` table writes.
    """

    name: str
    paper: str
    title: str
    rule: str
    caption: str
    requires: tuple[str, ...] = ()
    gpu: bool = False
    files: tuple[str, ...] = ()
    report: tuple[str, ...] = ("html", "png")
    category: str | None = None
    metrics: MetricTable | None = None
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    per_dataset_of: str | None = None
    frame: str | None = None
    inputs: tuple[str, ...] = ()
    table_caption: str | None = None

    def __post_init__(self) -> None:
        if not self.files:
            object.__setattr__(self, "files", tuple(f"tables/{self.name}{suffix}" for suffix in TABLE_FILES))

    def file(self, suffix: str, folder: str | None = None) -> str:
        """The one file with this suffix (in ``folder`` where two folders hold one)."""
        found = [f for f in self.files if f.endswith(f".{suffix}") and (folder is None or f.startswith(f"{folder}/"))]
        if len(found) != 1:
            raise ValueError(f"artifact {self.name!r} has {len(found)} .{suffix} files"
                             f"{'' if folder is None else ' in ' + folder}: {list(self.files)}")
        return found[0]

    def category_of(self, file: str) -> str:
        """The report's category of one of its files."""
        return self.category or CATEGORY_OF_FOLDER[file.split("/", 1)[0]]

    def in_report(self, file: str) -> bool:
        return file.rsplit(".", 1)[-1] in self.report

    def build(self, inputs: list[list[Any]]) -> Any:
        """The table's frame: its ``frame`` function applied to the contents of its inputs."""
        from importlib import import_module

        if self.frame is None:
            raise ValueError(f"artifact {self.name!r} has no frame function: its own rule writes it")
        module, function = self.frame.split(":")
        return getattr(import_module(module), function)(*inputs)

    @property
    def metrics_csv(self) -> str | None:
        """The CSV whose headline columns go to the metrics file (keyed by its stem, the name)."""
        return self.file("csv", "tables") if self.metrics else None


def _artifact(name: str, entry: dict[str, Any]) -> Artifact:
    entry = dict(entry)
    metrics = entry.pop("metrics", None)
    if metrics is not None:
        entry["metrics"] = MetricTable(tuple(metrics["key"]), tuple(metrics["values"]),
                                       tuple(metrics.get("headline", ())),
                                       {c: tuple(v) for c, v in metrics.get("where", {}).items()})
    for key in ("requires", "files", "report", "inputs"):
        if key in entry:
            entry[key] = tuple(entry[key])
    for row, columns in entry.get("values", {}).items():
        if not isinstance(columns, dict):
            raise ValueError(f"{CATALOG_FILE}: {name}.values.{row} needs a column -> value mapping")
    artifact = Artifact(name=name, **entry)
    if artifact.frame and (artifact.rule != "make_tables" or artifact.table_caption is None
                           or artifact.files != tuple(f"tables/{name}{suffix}" for suffix in TABLE_FILES)):
        raise ValueError(f"{CATALOG_FILE}: {name} has a frame function, so rule make_tables writes it: give it "
                         "rule: make_tables, a table_caption and the default files")
    if artifact.metrics and artifact.metrics_csv != f"tables/{name}.csv":
        raise ValueError(f"{CATALOG_FILE}: {name}'s metrics are read from tables/{name}.csv, which it does not write")
    return artifact


@lru_cache(maxsize=1)
def artifacts() -> Registry[Artifact]:
    """Every entry of ``catalog.yaml``, read on first use (the package ships the YAML)."""
    text = resources.files(__package__).joinpath(CATALOG_FILE).read_text()
    registry: Registry[Artifact] = Registry("paper artifact", KeyError)
    for name, entry in yaml.safe_load(text).items():
        registry.add(name, _artifact(name, entry))
    return registry


def artifact(name: str) -> Artifact:
    """One entry; an unknown name lists the known ones."""
    return artifacts().get(name)


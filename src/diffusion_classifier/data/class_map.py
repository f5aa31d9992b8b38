"""Which model class ids stand behind each label class of a dataset.

Most datasets score one candidate per label class, and the candidate's model id is
the label index itself. The ImageNet family differs:

* ImageNet-A and ImageNet val restricted to its classes: 200 label classes, each one
  of DiT's 1,000 ImageNet ids (``class_ids`` column of ``classes.csv``: ``"6"``).
* ObjectNet (paper Sec. 5.2, following the robustness testbed): 113 label classes mapped to 125 ImageNet ids;
  ``class_ids`` holds every id of a class, ``;``-separated (``"409;530"``).

Scoring conditions a class-conditional model on :attr:`ClassMap.candidates` (each
distinct id once); aggregation turns the best candidate into a label with
:meth:`ClassMap.label_of`. Because the id sets are disjoint (checked here), "the
prediction over the 125 ids is correct iff it falls in the image's mapped set" is
exactly "``label_of(argmin candidate) == label``". Text-conditional models score the
label classes' names directly and ignore the ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

__all__ = ["ClassMap", "format_ids", "parse_ids"]

SEPARATOR = ";"


def format_ids(ids: Sequence[int]) -> str:
    """``[409, 530] -> "409;530"`` (the ``class_ids`` cell form)."""
    return SEPARATOR.join(str(int(i)) for i in ids)


def parse_ids(cell: object, where: str) -> tuple[int, ...]:
    """Inverse of :func:`format_ids`, with an error naming the file and row."""
    text = str(cell).strip()
    try:
        ids = tuple(int(part) for part in text.split(SEPARATOR) if part.strip())
    except ValueError:
        raise ValueError(f"{where}: class_ids {text!r} is not a ';'-separated list of integers") from None
    if not ids:
        raise ValueError(f"{where}: class_ids is empty; every class needs at least one model id")
    return ids


@dataclass(frozen=True)
class ClassMap:
    """Model class ids of each label class (label order).

    Attributes:
        label_ids: ``label_ids[label]`` is the tuple of model ids of that label class.
    """

    label_ids: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        owner: dict[int, int] = {}
        for label, ids in enumerate(self.label_ids):
            if not ids:
                raise ValueError(f"label class {label} has no model class id")
            for i in ids:
                if i in owner:
                    raise ValueError(
                        f"model class id {i} belongs to label classes {owner[i]} and {label}; "
                        "the id sets must be disjoint for a prediction to name one label"
                    )
                owner[i] = label

    @classmethod
    def identity(cls, num_classes: int) -> "ClassMap":
        """Label ``i`` is model class ``i`` (torchvision sets, digits, ImageNet val)."""
        return cls(tuple((i,) for i in range(num_classes)))

    @classmethod
    def from_table(cls, table: pd.DataFrame, where: str = "classes.csv") -> "ClassMap":
        """From a ``classes.csv`` table; without a ``class_ids`` column, the identity."""
        if "class_ids" not in table.columns:
            return cls.identity(len(table))
        return cls(tuple(parse_ids(cell, f"{where} row {i}") for i, cell in enumerate(table["class_ids"])))

    @property
    def candidates(self) -> tuple[int, ...]:
        """Every model id once, grouped by label class (the order scoring uses)."""
        return tuple(i for ids in self.label_ids for i in ids)

    @property
    def candidate_labels(self) -> tuple[int, ...]:
        """The label class of each entry of :attr:`candidates`."""
        return tuple(label for label, ids in enumerate(self.label_ids) for _ in ids)

    def label_of(self, candidate_index: int) -> int:
        """Label class of the candidate at ``candidate_index`` in :attr:`candidates`."""
        return self.candidate_labels[candidate_index]

    @property
    def is_identity(self) -> bool:
        return all(ids == (label,) for label, ids in enumerate(self.label_ids))

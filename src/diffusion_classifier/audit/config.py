"""Thresholds and batching of the Table 2 audit, as one frozen, serialisable config."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import Field

from ..config import Positive


@dataclass(frozen=True)
class FilterThresholds:
    """SD 2.0's filter thresholds (paper Sec. 6.1 and Table 2; the SD 2.0 model card): ``audit.thresholds``.

    Attributes:
        min_side: Both original width and height must be >= this (the 512 stage).
        aesthetic_threshold: An image passes the aesthetic filter if its score is >= this.
        punsafe_threshold: An image passes the safety filter if punsafe is < this. (The
            paper's caption writes "<= 0.1"; LAION's filter is punsafe < 0.1. For a
            continuous sigmoid output the two agree almost surely.)
    """

    min_side: Positive = 512
    aesthetic_threshold: float = 4.5
    punsafe_threshold: Annotated[float, Field(ge=0, le=1)] = 0.1


@dataclass(frozen=True)
class AuditConfig(FilterThresholds):
    """Settings of the LAION-filter audit (the thresholds and the batching); saved beside its results.

    Attributes:
        batch_size: Images decoded and embedded per step.
    """

    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.min_side < 1:
            raise ValueError(f"min_side must be >= 1, got {self.min_side}")
        if not 0.0 <= self.punsafe_threshold <= 1.0:
            raise ValueError(f"punsafe_threshold must be in [0, 1], got {self.punsafe_threshold}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON/YAML provenance files."""
        return asdict(self)

"""Compositional reasoning (paper Table 3): Winoground-style text, image and group scores."""

from .scores import CHANCE, example_scores, outcomes, pair_scores, summarise_examples

__all__ = ["CHANCE", "example_scores", "outcomes", "pair_scores", "summarise_examples"]

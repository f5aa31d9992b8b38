"""The pairs of one image evaluated so far, batch by batch: what a mid-image resume needs.

At paper scale one image is up to 250,000 noise-predictor passes (tens of minutes on a
GPU), so a preemption that loses the image in flight loses real money. The engine
records every batch of an image in a :class:`PairLog`; a checkpoint saves
:meth:`PairLog.state` (the evaluated pairs and their errors, in evaluation order), and
a resumed job passes that state back in. The engine then walks the same stages or
blocks: decisions (survivors, eliminations) are recomputed from the same float32
errors, and every pair that is already in the stored prefix is taken from it instead of
being evaluated again, so the result is identical to an uninterrupted run and at most
the batch in flight when the job died is redone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["PairLog", "STATE_KEYS"]

STATE_KEYS = ("condition", "grid_index")
"""Keys of :meth:`PairLog.state` besides the per-objective ``error_<name>`` arrays."""

_ERROR = "error_"


class PairLog:
    """Errors of one image's evaluated pairs, in evaluation order.

    Args:
        stored: A previous attempt's :meth:`state` for the same image (``None``: start
            afresh). Its pairs are served instead of being evaluated again.
        on_batch: Called with the log after each batch (a time-based checkpoint).
    """

    def __init__(self, stored: dict[str, np.ndarray] | None = None,
                 on_batch: Callable[["PairLog"], None] | None = None) -> None:
        self._stored = {k: np.asarray(v) for k, v in (stored or {}).items()}
        self._cursor = 0
        self._batches: list[tuple[np.ndarray, np.ndarray, dict[str, torch.Tensor]]] = []
        self.on_batch = on_batch
        self.replayed = 0

    @property
    def stored_pairs(self) -> int:
        return len(self._stored.get("condition", ()))

    @property
    def evaluated(self) -> int:
        """Pairs recorded so far (replayed or computed)."""
        return sum(len(c) for c, _, _ in self._batches)

    def evaluate(self, conditions: torch.Tensor, grid_indices: torch.Tensor,
                 compute: Callable[[int], dict[str, torch.Tensor]], device: torch.device) -> dict[str, torch.Tensor]:
        """Errors of one batch: the leading pairs from the stored prefix, the rest by ``compute``.

        ``compute(k)`` evaluates the batch's pairs from index ``k`` on.
        """
        k, stored = self.take(conditions, grid_indices, device)
        computed = compute(k) if k < len(conditions) else None
        return self.record(conditions, grid_indices, stored, computed)

    def take(self, conditions: torch.Tensor, grid_indices: torch.Tensor,
             device: torch.device) -> tuple[int, dict[str, torch.Tensor] | None]:
        """How many leading pairs of a batch the stored prefix holds, and their errors (on ``device``)."""
        k = self._take(conditions.numpy(), grid_indices.numpy())
        if not k:
            return 0, None
        window = slice(self._cursor, self._cursor + k)
        return k, {name[len(_ERROR):]: torch.from_numpy(values[window]).to(device)
                   for name, values in self._stored.items() if name.startswith(_ERROR)}

    def record(self, conditions: torch.Tensor, grid_indices: torch.Tensor, stored: dict[str, torch.Tensor] | None,
               computed: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """Record a batch: the ``stored`` errors :meth:`take` gave, then the ``computed`` rest."""
        parts = [p for p in (stored, computed) if p is not None]
        errors = parts[0] if len(parts) == 1 else {name: torch.cat([p[name] for p in parts]) for name in parts[-1]}
        k = 0 if stored is None else len(next(iter(stored.values())))
        self._batches.append((conditions.numpy(), grid_indices.numpy(), errors))  # one append: whole or not at all
        self._cursor += k
        self.replayed += k
        if self.on_batch is not None:
            self.on_batch(self)
        return errors

    def _take(self, cond: np.ndarray, grid: np.ndarray) -> int:
        """How many leading pairs of the batch the stored prefix holds (checked pair by pair)."""
        k = min(len(cond), self.stored_pairs - self._cursor)
        if k <= 0:
            return 0
        window = slice(self._cursor, self._cursor + k)
        if not (np.array_equal(self._stored["condition"][window], cond[:k])
                and np.array_equal(self._stored["grid_index"][window], grid[:k])):
            raise RuntimeError(
                f"the stored in-flight pairs {self._cursor}..{self._cursor + k} are not the pairs this run "
                "evaluates; the checkpoint's run key should have rejected it (delete the shard's .partial "
                "folder to start the shard afresh)"
            )
        return k

    def state(self) -> dict[str, np.ndarray]:
        """Every pair recorded so far: ``condition``, ``grid_index`` and ``error_<objective>`` arrays."""
        batches = list(self._batches)
        if not batches:
            return {}
        out = {"condition": np.concatenate([c for c, _, _ in batches]).astype(np.int64),
               "grid_index": np.concatenate([g for _, g, _ in batches]).astype(np.int64)}
        for name in batches[0][2]:
            out[_ERROR + name] = torch.cat([e[name] for _, _, e in batches]).float().cpu().numpy()
        return out

"""A prompt table's error, and the check every list of class prompts passes.

Both the prompt tables (:mod:`.prompts`) and the authors' released tables
(:mod:`.released_prompts`) raise :class:`PromptTableError` and refuse identical
prompts with :func:`check_identical_prompts`; this module is their common ground, so
neither imports the other's module for it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from ..errors import UserError

__all__ = ["PromptTableError", "check_identical_prompts"]


class PromptTableError(UserError, ValueError):
    """A prompt table is missing, malformed, or does not fit the dataset or model."""


def check_identical_prompts(prompts: Sequence[str], labels: Sequence[object], where: str,
                            allowed: Iterable[Iterable[int]] = (), released: bool = False) -> None:
    """Refuse two classes with the same prompt: the second could never be predicted.

    Args:
        prompts: One prompt per class, in class-index order.
        labels: A name per class for the message.
        where: What the prompts come from (file or config key), named in the error.
        allowed: Groups of class indices whose identical prompts are accepted knowingly
            (the authors' ImageNet table has two such pairs).
        released: The prompts are a released table's (the fix named differs).
    """
    accepted = {frozenset(int(i) for i in group) for group in allowed}
    seen: dict[str, list[int]] = {}
    for index, prompt in enumerate(prompts):
        seen.setdefault(str(prompt).strip().casefold(), []).append(index)
    for indices in seen.values():
        if len(indices) > 1 and frozenset(indices) not in accepted:
            named = ", ".join(f"{i} ({labels[i]!s})" for i in indices)
            fix = (f"if the run being reproduced had them, list {sorted(indices)} under the dataset's "
                   "prompt_table.identical_prompts" if released else
                   "give them distinct names with the dataset's prompt_class_names")
            raise PromptTableError(f"{where}: classes {named} get the identical prompt {prompts[indices[0]]!r}, so "
                                   f"only one of them can ever be predicted; {fix}")

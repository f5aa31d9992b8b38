"""A word-level CLIP tokenizer written from a word list (vocab.json + merges.txt).

Stable Diffusion's ``tokenizer/`` folder holds a byte-pair-encoding vocabulary
(``vocab.json``) and its merge rules (``merges.txt``). The models the pipeline
trains itself, and the tests' stand-ins for Stable Diffusion, need a tokenizer of
the same kind but tiny and offline: this module writes one whose merges rebuild
every given word from its characters, so each known word is one token, and loads
it with the same ``CLIPTokenizer`` that reads the real checkpoint.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

__all__ = ["BOS_TOKEN", "EOS_TOKEN", "caption_words", "write_word_tokenizer", "load_tokenizer"]

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
_WORD = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]+")


def caption_words(captions: Iterable[str]) -> list[str]:
    """The words CLIP's pre-tokenizer cuts ``captions`` into (lower case, digits apart)."""
    return sorted({w for caption in captions for w in _WORD.findall(caption.lower())})


def write_word_tokenizer(words: Iterable[str], out_dir: str | Path, model_max_length: int) -> Path:
    """Write ``vocab.json``, ``merges.txt`` and ``tokenizer_config.json`` into ``out_dir``.

    Args:
        words: Words that become single tokens; other text falls back to characters
            (and to the unknown token for characters no word contains).
        out_dir: Target folder (the checkpoint's ``tokenizer/``).
        model_max_length: Length every prompt is padded to (Stable Diffusion: 77).
    """
    words = sorted({w.lower() for w in words if w.strip()})
    if not words:
        raise ValueError("cannot build a tokenizer from an empty word list")
    vocab: dict[str, int] = {}

    def add(token: str) -> None:
        vocab.setdefault(token, len(vocab))

    chars = sorted({c for w in words for c in w})
    for c in chars:
        add(c)
    for c in chars:
        add(c + "</w>")
    merges: list[str] = []
    for word in words:
        pieces = [*word[:-1], word[-1] + "</w>"]
        while len(pieces) > 1:
            rule = f"{pieces[0]} {pieces[1]}"
            if rule not in merges:
                merges.append(rule)
            pieces = [pieces[0] + pieces[1], *pieces[2:]]
            add(pieces[0])
    add(BOS_TOKEN)
    add(EOS_TOKEN)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, indent=0, ensure_ascii=False))
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": int(model_max_length),
              "bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": EOS_TOKEN, "pad_token": EOS_TOKEN}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return out_dir


#: The files ``CLIPTokenizer`` cannot load without.
TOKENIZER_FILES = ("vocab.json", "merges.txt")


def load_tokenizer(path: str | Path, subfolder: str = ""):
    """``CLIPTokenizer.from_pretrained`` of a folder (the checkpoint's ``tokenizer/``).

    A missing or unreadable file is a :class:`~.loading.CheckpointError` naming it
    (transformers' own message names neither the file nor the fix).
    """
    from transformers import CLIPTokenizer

    from .loading import CheckpointError

    folder = Path(path) / subfolder
    missing = [name for name in TOKENIZER_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"tokenizer file(s) {', '.join(str(folder / m) for m in missing)} missing: the "
                              "checkpoint is incomplete; download its tokenizer/ folder again")
    try:
        return CLIPTokenizer.from_pretrained(str(path), subfolder=subfolder) if subfolder else \
            CLIPTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"tokenizer in {folder} cannot be read ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}): download it again") from None

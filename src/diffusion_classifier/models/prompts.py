"""Prompt tables: the prompts of a dataset and their text embeddings, computed once.

A text-conditional model's conditioning table (one hidden-state sequence per
prompt) depends only on the dataset's prompts and the model's text encoder, so it
is built once per dataset x model and kept as an artifact that every scoring shard
reads instead of re-encoding::

    prompts.csv               one row per prompt, in embedding order
    embeddings.safetensors    "embeddings": [num_prompts, max_length, width]
    provenance.json           model id, weights hash, dtype, kind, code version

Two kinds of table:

* ``classes`` (classification): ``index, class_index, class_name, template, prompt``,
  one prompt per class, ``template.format(class_name)`` or, at paper scale, the
  authors' released prompt of the class (:mod:`.released_prompts`; ``template``
  then names the table);
* ``captions`` (caption-pair datasets, Winoground): ``index, example_id, slot,
  template, prompt``, the two captions of every example (template ``{}``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import pandas as pd

from ..artifacts.io import atomic_directory, read_json, write_json
from ..artifacts.provenance import code_version, file_sha256, verify_sha256
from .prompt_checks import PromptTableError, check_identical_prompts
from .released_prompts import join_released_table, read_released_table

if TYPE_CHECKING:
    import torch  # imported by the functions that read or build embeddings

__all__ = ["PromptSpec", "PromptTable", "class_prompts", "caption_prompts", "write_prompt_table",
           "read_prompt_table"]

CLASS_COLUMNS = ("index", "class_index", "class_name", "template", "prompt")
CAPTION_COLUMNS = ("index", "example_id", "slot", "template", "prompt")


@dataclass(frozen=True)
class PromptSpec:
    """How a dataset's classes get their prompts.

    Attributes:
        template: A string with one ``{}`` placeholder for the class name, e.g.
            ``"a photo of a {}, a type of pet."`` (paper Sec. 5.1, CLIP's templates).
        class_names: Names to put in the template instead of the dataset's
            ``classes.csv`` names (same order and count), e.g. cleaned ImageNet names.
        table: A released prompt table (``prompt,classname,classidx``, fetched and
            checksum-verified by rule ``fetch_prompt_table``): its prompts are used as
            they are, and ``template``/``class_names`` are ignored.
        identical_prompts: Groups of class indices whose identical prompts are accepted
            (the authors' ImageNet table has two); any other repeated prompt is an error.
    """

    template: str = "{}"
    class_names: tuple[str, ...] | None = None
    table: str | None = None
    identical_prompts: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        fields = [f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None]
        if fields != [""]:
            raise PromptTableError(
                f"prompt template {self.template!r} must contain exactly one '{{}}' placeholder for the class name"
            )
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "identical_prompts", tuple(tuple(int(i) for i in g) for g in self.identical_prompts))


def class_prompts(classes: Sequence[str] | pd.DataFrame, spec: PromptSpec) -> pd.DataFrame:
    """One prompt per class: the released table's, or ``spec.template`` filled with each class name.

    Args:
        classes: The dataset's class names in label order, or its ``classes.csv``
            table (``name`` column and, for a released table, the other name columns
            its class names are checked against).
        spec: Where the prompts come from.
    """
    table = classes if isinstance(classes, pd.DataFrame) else pd.DataFrame({"name": [str(c) for c in classes]})
    labels = [str(n) for n in table["name"]]
    if not labels:
        raise PromptTableError("the dataset has no classes to build prompts for")
    if spec.table is not None:
        joined = join_released_table(read_released_table(spec.table, spec.identical_prompts), table, spec.table)
        template, prompts = f"released table {Path(spec.table).name}", joined["prompt"].tolist()
    else:
        names = list(spec.class_names) if spec.class_names is not None else labels
        if len(names) != len(labels):
            raise PromptTableError(
                f"{len(names)} prompt class names for {len(labels)} dataset classes: the prompt_class_names "
                "list must name every class of classes.csv, in the same order"
            )
        template, prompts = spec.template, [spec.template.format(name) for name in names]
        check_identical_prompts(prompts, labels, f"prompt template {spec.template!r}", spec.identical_prompts)
    return pd.DataFrame({
        "index": range(len(labels)),
        "class_index": range(len(labels)),
        "class_name": labels,
        "template": template,
        "prompt": prompts,
    })


def caption_prompts(examples: pd.DataFrame) -> pd.DataFrame:
    """The two captions of every caption-pair example, example by example."""
    rows = []
    for example in examples.itertuples(index=False):
        for slot in (0, 1):
            rows.append({"example_id": str(example.id), "slot": slot, "template": "{}",
                         "prompt": str(getattr(example, f"caption_{slot}"))})
    frame = pd.DataFrame(rows, columns=CAPTION_COLUMNS[1:])
    frame.insert(0, "index", range(len(frame)))
    return frame


@dataclass(frozen=True)
class PromptTable:
    """A prompt table read back: the prompts, their embeddings and provenance."""

    frame: pd.DataFrame
    embeddings: torch.Tensor
    provenance: dict
    root: Path

    @property
    def kind(self) -> str:
        return self.provenance["kind"]

    def for_classes(self, class_names: Sequence[str], weights_hash: str = "") -> torch.Tensor:
        """The embeddings of a classification run, checked against its classes and model."""
        self._check_kind("classes")
        self._check_model(weights_hash)
        names = [str(n) for n in self.frame["class_name"]]
        if len(names) != len(class_names):
            raise PromptTableError(
                f"{self.root}: {len(names)} prompts for {len(class_names)} classes of the dataset; "
                "re-run prepare_prompts for this dataset and model"
            )
        if names != [str(n) for n in class_names]:
            bad = next(i for i, (a, b) in enumerate(zip(names, class_names)) if a != str(b))
            raise PromptTableError(
                f"{self.root}: prompt {bad} is for class {names[bad]!r} but the dataset's class {bad} is "
                f"{class_names[bad]!r}; re-run prepare_prompts for this dataset and model"
            )
        return self.embeddings

    def for_examples(self, weights_hash: str = "") -> dict[str, torch.Tensor]:
        """Example id -> the ``[2, length, width]`` embeddings of its two captions."""
        self._check_kind("captions")
        self._check_model(weights_hash)
        out: dict[str, torch.Tensor] = {}
        for example_id, group in self.frame.groupby("example_id", sort=False):
            group = group.sort_values("slot")
            if list(group["slot"]) != [0, 1]:
                raise PromptTableError(f"{self.root}: example {example_id!r} does not have exactly captions 0 and 1")
            out[str(example_id)] = self.embeddings[group["index"].tolist()]
        return out

    def _check_kind(self, kind: str) -> None:
        if self.kind != kind:
            raise PromptTableError(f"{self.root} holds a {self.kind!r} prompt table, not a {kind!r} one")

    def _check_model(self, weights_hash: str) -> None:
        recorded = self.provenance.get("weights_sha256", "")
        if weights_hash and recorded and weights_hash != recorded:
            raise PromptTableError(
                f"{self.root} was encoded by other weights (sha256 {recorded[:12]}...) than the model being "
                f"scored ({weights_hash[:12]}...); re-run prepare_prompts"
            )


def write_prompt_table(out_dir: str | Path, frame: pd.DataFrame, embeddings: torch.Tensor, kind: str,
                       provenance: dict) -> Path:
    """Write ``prompts.csv``, ``embeddings.safetensors`` and ``provenance.json`` atomically."""
    from ..artifacts.tensors import save_tensors

    columns = {"classes": CLASS_COLUMNS, "captions": CAPTION_COLUMNS}[kind]
    if list(frame.columns) != list(columns):
        raise PromptTableError(f"a {kind!r} prompt table needs columns {list(columns)}, got {list(frame.columns)}")
    if len(frame) != len(embeddings):
        raise PromptTableError(f"{len(frame)} prompts but {len(embeddings)} embeddings")
    with atomic_directory(out_dir) as tmp:
        frame.to_csv(tmp / "prompts.csv", index=False)
        save_tensors({"embeddings": embeddings}, tmp / "embeddings.safetensors",
                     metadata={"kind": kind, "num_prompts": str(len(frame))})
        write_json(tmp / "provenance.json", {
            **provenance,
            "kind": kind,
            "num_prompts": len(frame),
            "shape": list(embeddings.shape),
            "dtype": str(embeddings.dtype).removeprefix("torch."),
            "templates": sorted(frame["template"].unique().tolist()),
            "embeddings_sha256": file_sha256(tmp / "embeddings.safetensors"),
            "prompts_sha256": file_sha256(tmp / "prompts.csv"),
            "code_version": code_version(),
        })
    return Path(out_dir)


def read_prompt_table(path: str | Path, device: str | torch.device = "cpu",
                      dtype: torch.dtype | None = None) -> PromptTable:
    """Read a prompt table, after checking its files against the sha256 its provenance records;
    clear errors for missing or altered files or mismatched counts."""
    from safetensors.torch import load_file

    root = Path(path)
    missing = [n for n in ("prompts.csv", "embeddings.safetensors", "provenance.json") if not (root / n).exists()]
    if missing:
        raise PromptTableError(
            f"{root} is not a prompt table (missing {', '.join(missing)}); run the prepare_prompts rule "
            "(`diffusion-classifier prepare-prompts`) for this dataset and model"
        )
    provenance = read_json(root / "provenance.json", "delete the table and re-run prepare-prompts",
                           "prompt table provenance record")
    for name, key in (("prompts.csv", "prompts_sha256"), ("embeddings.safetensors", "embeddings_sha256")):
        verify_sha256(root / name, provenance.get(key), root / "provenance.json",
                      "delete the table and re-run its prepare_prompts rule", error=PromptTableError)
    frame = pd.read_csv(root / "prompts.csv", dtype={"class_name": str, "example_id": str, "prompt": str,
                                                     "template": str}, keep_default_na=False)
    embeddings = load_file(str(root / "embeddings.safetensors"))["embeddings"]
    if len(frame) != len(embeddings):
        raise PromptTableError(f"{root}: prompts.csv has {len(frame)} rows but the embeddings {len(embeddings)}")
    if list(frame["index"]) != list(range(len(frame))):
        raise PromptTableError(f"{root}: prompts.csv's index column must be 0..{len(frame) - 1} in order")
    embeddings = embeddings.to(device, dtype or embeddings.dtype)
    return PromptTable(frame, embeddings, provenance, root)

"""The authors' released prompt tables: fetched, checksum-verified, joined to a dataset.

The paper's zero-shot prompts are not all ``template.format(class name)``: Pets says
"cat"/"dog" ("a photo of a Boxer dog, a type of pet."), ImageNet uses CLIP's curated
names, ObjectNet rewords some classes. The authors released one table per dataset
(github.com/diffusion-classifier/diffusion-classifier at the commit pinned in
:data:`AUTHORS_PROMPTS_URL`, ``prompts/<name>_prompts.csv``, header
``prompt,classname,classidx``), and the paper-scale config uses them as released:

* :func:`fetch_prompt_table` downloads a table (or takes an already present copy),
  verifies its sha256 and writes it where the workflow reads it;
* :func:`read_released_table` checks its form (header, one row per ``classidx``)
  and refuses identical prompts for different classes unless the config names them;
* :func:`join_released_table` joins it to a prepared dataset by ``classidx`` = label
  index, refusing a table whose class names disagree with the dataset's own names
  (compared up to case and punctuation, :func:`comparable_name`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from ..artifacts.provenance import file_sha256
from .prompt_checks import PromptTableError, check_identical_prompts

__all__ = ["AUTHORS_PROMPTS_URL", "RELEASED_COLUMNS", "fetch_prompt_table", "read_released_table",
           "join_released_table", "comparable_name"]

#: The authors' prompt tables at the release commit the reproduction is pinned to.
AUTHORS_PROMPTS_URL = ("https://raw.githubusercontent.com/diffusion-classifier/diffusion-classifier/"
                       "e9f772d78b75976112d88a1002c496f6ef0cb27e/prompts")
RELEASED_COLUMNS = ("prompt", "classname", "classidx")
DOWNLOAD_TIMEOUT_S = 60


def comparable_name(name: object) -> str:
    """A class name up to case and punctuation: ``"F-16A/B"`` and ``"f-16a_b"`` -> ``"f16ab"``."""
    return re.sub(r"[\W_]+", "", str(name).casefold())


def _download(url: str, target: Path) -> None:
    """Fetch ``url`` (http(s) or file://) into ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            shutil.copyfileobj(response, out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch_prompt_table(url: str, sha256: str, cache: str | Path, out: str | Path) -> Path:
    """Make ``out`` a verified copy of the table at ``url`` (sha256 ``sha256``).

    ``cache`` is where the downloaded file is kept (like a dataset's raw folder): a
    file already there with the right checksum is used without any network access,
    which is also how an offline machine (or a test) provides the table.

    Raises:
        PromptTableError: The download failed (the message names the URL and the path
            to place the file at by hand), or the file's checksum is not ``sha256``.
    """
    cache, out = Path(cache), Path(out)
    if not cache.is_file():
        try:
            _download(url, cache)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PromptTableError(
                f"could not download the prompt table {url} ({exc}); fetch it by hand and place it at {cache} "
                f"(sha256 {sha256})"
            ) from None
    actual = file_sha256(cache)
    if actual != sha256:
        raise PromptTableError(
            f"{cache} has sha256 {actual}, not the released table's {sha256} ({url}); delete it and fetch the "
            "table again, or correct the dataset's prompt_table.sha256 if the table is meant to differ"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    os.close(fd)
    shutil.copyfile(cache, tmp)
    os.replace(tmp, out)
    return out


def read_released_table(path: str | Path, identical_prompts: Iterable[Iterable[int]] = ()) -> pd.DataFrame:
    """A released table, checked: its header, one row per ``classidx`` 0..N-1, distinct prompts.

    Returns:
        The rows sorted by ``classidx``.
    """
    path = Path(path)
    if not path.is_file():
        raise PromptTableError(f"prompt table {path} does not exist; run the fetch_prompt_table rule")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise PromptTableError(f"{path} is not a readable CSV ({exc})") from None
    if tuple(table.columns) != RELEASED_COLUMNS:
        raise PromptTableError(f"{path}: header must be {','.join(RELEASED_COLUMNS)}, got {','.join(table.columns)}")
    if not table["classidx"].str.fullmatch(r"\d+").all():
        bad = table.loc[~table["classidx"].str.fullmatch(r"\d+"), "classidx"].iloc[0]
        raise PromptTableError(f"{path}: classidx {bad!r} is not a non-negative integer")
    table["classidx"] = table["classidx"].astype(int)
    repeated = table.loc[table["classidx"].duplicated(), "classidx"].tolist()
    if repeated:
        raise PromptTableError(f"{path}: classidx {repeated[0]} has more than one row; one prompt per class")
    table = table.sort_values("classidx", ignore_index=True)
    if table["classidx"].tolist() != list(range(len(table))):
        missing = sorted(set(range(len(table))) - set(table["classidx"]))
        raise PromptTableError(f"{path}: classidx must be 0..{len(table) - 1} without gaps; {missing[:3]} missing")
    check_identical_prompts(table["prompt"].tolist(), table["classname"].tolist(), str(path), identical_prompts,
                            released=True)
    return table


def join_released_table(table: pd.DataFrame, classes: pd.DataFrame, where: str,
                        name_columns: Sequence[str] = ("name", "folder")) -> pd.DataFrame:
    """The prompt of each dataset class, by ``classidx`` = label index, names checked.

    Args:
        table: A table from :func:`read_released_table`.
        classes: The dataset's ``classes.csv`` (label order).
        where: The table's file, named in errors.
        name_columns: Columns of ``classes`` holding names of a class; the table's
            ``classname`` must equal one of them up to case and punctuation (ObjectNet's
            tables name classes by folder, ``alarm_clock``; its ``name`` is "Alarm clock").

    Returns:
        Columns ``class_index``, ``classname`` (the table's), ``prompt``, in label order.
    """
    if len(table) != len(classes):
        raise PromptTableError(f"{where} has {len(table)} classes (classidx 0..{len(table) - 1}) but the dataset has "
                               f"{len(classes)}; use the table of this dataset")
    columns = [c for c in name_columns if c in classes.columns]
    for row in table.itertuples(index=False):
        ours = [str(classes[c].iloc[row.classidx]) for c in columns]
        if comparable_name(row.classname) not in {comparable_name(n) for n in ours}:
            raise PromptTableError(
                f"{where}: classidx {row.classidx} is {row.classname!r} but the dataset's class {row.classidx} is "
                f"{ours[0]!r}; the table belongs to another dataset or class order"
            )
    return pd.DataFrame({"class_index": table["classidx"], "classname": table["classname"], "prompt": table["prompt"]})

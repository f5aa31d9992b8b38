"""Winoground (Thrush et al., 2022): the compositional benchmark of the paper's Table 3.

The dataset is gated on the Hugging Face hub (``facebook/winoground``): accept its
terms on the dataset page while logged in, create an access token, and make it
visible here as ``HF_TOKEN`` (or ``huggingface-cli login``). The reader downloads
the repository's ``data/`` folder through ``huggingface_hub`` (its cache and
``HF_HUB_OFFLINE`` apply) and understands both layouts the repository has had:

* ``data/test-*.parquet``: one row per example, ``image_0`` / ``image_1`` as the
  ``datasets`` Image struct ``{bytes, path}``;
* ``data/examples.jsonl`` + ``data/images.zip`` (or an unpacked ``images/``
  folder): ``image_0`` / ``image_1`` name files ``<name>.png``.

``local_dir`` reads an already downloaded copy in either layout instead. The
result is a caption-pair dataset (:mod:`.pairs`): 400 examples, 800 images.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Iterator

import pandas as pd

from .errors import DatasetError
from .images import opened
from .pairs import EXAMPLE_COLUMNS, write_pair_dataset
from .registry import register_dataset

__all__ = ["prepare_winoground", "WinogroundAccessError", "HUB_ID"]

HUB_ID = "facebook/winoground"
_PAGE = f"https://huggingface.co/datasets/{HUB_ID}"


class WinogroundAccessError(DatasetError):
    """The gated dataset could not be obtained (no token, token rejected, offline)."""


def _download(token_env: str, revision: str) -> Path:
    """Snapshot of the repository's data folder; a clear error if access fails."""
    import huggingface_hub
    from huggingface_hub import errors

    token = os.environ.get(token_env) or huggingface_hub.get_token()
    how = (f"accept the terms at {_PAGE} while logged in, create an access token (Settings -> Access "
           f"Tokens) and export it as {token_env}=<token> (or run `huggingface-cli login`); or download "
           "the repository elsewhere and set the dataset option local_dir to its folder")
    try:
        return Path(huggingface_hub.snapshot_download(HUB_ID, repo_type="dataset", revision=revision,
                                                      token=token, allow_patterns=["data/*"]))
    except (errors.GatedRepoError, errors.RepositoryNotFoundError) as exc:
        if token is None:
            raise WinogroundAccessError(f"Winoground is gated and no Hugging Face token was found: {how}") from None
        raise WinogroundAccessError(
            f"the hub rejected the token in {token_env} for {HUB_ID} ({type(exc).__name__}): check that the "
            f"token is valid and that its account accepted the dataset's terms at {_PAGE}"
        ) from None
    except Exception as exc:  # offline, not cached, network errors: one message
        missing = "" if token else " No Hugging Face token was found either."
        raise WinogroundAccessError(
            f"cannot download {HUB_ID} and it is not in the local Hugging Face cache "
            f"({type(exc).__name__}: {exc}).{missing} To get it: {how}"
        ) from None


def _image_bytes_from_struct(value, where: str) -> bytes:
    if isinstance(value, dict) and value.get("bytes"):
        return value["bytes"]
    raise DatasetError(f"{where}: the image has no embedded bytes; re-download the parquet files")


def _parquet_examples(files: list[Path]) -> Iterator[tuple[dict, bytes, bytes]]:
    for path in files:
        for row in pd.read_parquet(path).to_dict("records"):
            yield (row, _image_bytes_from_struct(row["image_0"], f"{path} example {row.get('id')}"),
                   _image_bytes_from_struct(row["image_1"], f"{path} example {row.get('id')}"))


def _jsonl_examples(data: Path) -> Iterator[tuple[dict, bytes, bytes]]:
    lines = (data / "examples.jsonl").read_text().splitlines()
    archive = zipfile.ZipFile(data / "images.zip") if (data / "images.zip").exists() else None
    names = {Path(n).stem: n for n in archive.namelist()} if archive else {}

    def read(name: str) -> bytes:
        if archive is not None:
            if name not in names:
                raise DatasetError(f"{data / 'images.zip'} has no image {name!r}")
            return archive.read(names[name])
        for folder in (data / "images", data):
            for suffix in (".png", ".jpg", ".jpeg"):
                if (folder / f"{name}{suffix}").exists():
                    return (folder / f"{name}{suffix}").read_bytes()
        raise DatasetError(f"image {name!r} of {data / 'examples.jsonl'} is neither in images.zip nor in images/")

    try:
        for line in filter(str.strip, lines):
            row = json.loads(line)
            yield row, read(str(row["image_0"])), read(str(row["image_1"]))
    finally:
        if archive is not None:
            archive.close()


def _examples(root: Path) -> Iterator[tuple[dict, bytes, bytes]]:
    data = root / "data" if (root / "data").is_dir() else root
    parquet = sorted(data.glob("test-*.parquet")) or sorted(data.glob("*.parquet"))
    if parquet:
        return _parquet_examples(parquet)
    if (data / "examples.jsonl").exists():
        return _jsonl_examples(data)
    raise DatasetError(
        f"{root} holds neither data/test-*.parquet nor data/examples.jsonl: it is not a copy of {HUB_ID}"
    )


@register_dataset("winoground", "Winoground (gated on the HF hub; token in HF_TOKEN): 400 caption-pair examples")
def prepare_winoground(out_dir: Path, *, local_dir: str | None = None, revision: str = "main",
                       token_env: str = "HF_TOKEN", max_examples: int | None = None) -> Path:
    """Winoground's 400 examples as a caption-pair dataset (split ``test``)."""
    root = Path(local_dir) if local_dir else _download(token_env, revision)
    if local_dir and not root.exists():
        raise DatasetError(f"Winoground local_dir {root} does not exist")
    (out_dir / "images" / "test").mkdir(parents=True, exist_ok=True)
    manifest, examples = [], []
    for row, *images in _examples(root):
        missing = [c for c in EXAMPLE_COLUMNS if c not in row]
        if missing:
            raise DatasetError(f"Winoground example {row.get('id')!r} lacks field(s) {missing}")
        example_id = f"{int(row['id']):03d}"
        ids = []
        for slot, data in enumerate(images):
            image_id = f"ex-{example_id}-img-{slot}"
            with opened(data, f"Winoground {image_id}") as image:
                size, fmt = image.size, (image.format or "png").lower()
            rel = Path("images") / "test" / f"{image_id}.{'jpg' if fmt == 'jpeg' else fmt}"
            (out_dir / rel).write_bytes(data)
            manifest.append({"image_id": image_id, "path": rel.as_posix(), "label": slot, "split": "test",
                             "orig_width": size[0], "orig_height": size[1],
                             "sha256": hashlib.sha256(data).hexdigest()})
            ids.append(image_id)
        examples.append({**{c: row[c] for c in EXAMPLE_COLUMNS}, "id": example_id, "image_0": ids[0],
                         "image_1": ids[1], "split": "test"})
        if max_examples is not None and len(examples) >= max_examples:
            break
    if not examples:
        raise DatasetError(f"no Winoground examples found in {root}")
    metadata = {"name": "winoground", "source": "winoground", "hub_id": HUB_ID, "revision": revision,
                "local_dir": local_dir, "max_examples": max_examples}
    return write_pair_dataset(out_dir, pd.DataFrame(manifest), pd.DataFrame(examples), metadata)

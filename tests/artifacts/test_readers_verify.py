"""Every reader of a hashed artifact checks the file against its recorded sha256 first:
one altered byte is a one-line error naming the file (shards: tests/artifacts/test_store.py;
dataset images through ``load_image``: tests/data/test_digits_and_manifest.py)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from diffusion_classifier.artifacts import ChecksumError, file_sha256
from diffusion_classifier.audit import score_manifest
from diffusion_classifier.data import load_dataset, write_dataset
from diffusion_classifier.models.prompt_checks import PromptTableError
from diffusion_classifier.models.prompts import read_prompt_table, write_prompt_table


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_the_audit_refuses_an_image_altered_after_the_dataset_was_prepared(tmp_path):
    root = tmp_path / "ds"
    (root / "img").mkdir(parents=True)
    rows = []
    for i in range(3):
        path = root / "img" / f"{i}.png"
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(path)
        rows.append({"image_id": f"im{i}", "path": f"img/{i}.png", "label": 0, "split": "test", "orig_width": 8,
                     "orig_height": 8, "sha256": file_sha256(path)})
    dataset = load_dataset(write_dataset(root, pd.DataFrame(rows), ["thing"], {"name": "tiny"}))
    assert len(score_manifest(dataset.split("test"), dataset.root, progress=False)) == 3
    flip_last_byte(root / "img" / "1.png")  # still decodes: PNG's trailing CRC is not checked by the audit
    with pytest.raises(ChecksumError) as error:
        score_manifest(dataset.split("test"), dataset.root, progress=False)
    assert f"{root / 'img' / '1.png'} does not match the sha256 recorded in {root / 'manifest.csv'}" in one_line(error)


@pytest.mark.parametrize("name", ["embeddings.safetensors", "prompts.csv"])
def test_a_prompt_table_refuses_an_altered_file(tmp_path, name):
    frame = pd.DataFrame({"index": [0, 1], "class_index": [0, 1], "class_name": ["cat", "dog"],
                          "template": ["a {}."] * 2, "prompt": ["a cat.", "a dog."]})
    table = write_prompt_table(tmp_path / "table", frame, torch.randn(2, 4, 8), "classes", {"model_id": "m"})
    assert read_prompt_table(table).embeddings.shape == (2, 4, 8)
    if name == "prompts.csv":
        (table / name).write_text((table / name).read_text().replace("a dog.", "a cow."))
    else:
        flip_last_byte(table / name)
    with pytest.raises(PromptTableError) as error:
        read_prompt_table(table)
    assert f"{table / name} does not match the sha256 recorded in {table / 'provenance.json'}" in one_line(error)


@pytest.mark.parametrize("content", ['{"files": {', "[1, 2]"])
def test_a_damaged_json_record_is_one_error_naming_it(tmp_path, content):
    """read_json, the reader of every JSON record the pipeline wrote (a shard's provenance, a
    summary, a dataset record): never a bare JSONDecodeError (issue 22)."""
    from diffusion_classifier.artifacts import DamagedFileError, read_json
    from diffusion_classifier.errors import UserError

    path = tmp_path / "provenance.json"
    path.write_text(content)
    with pytest.raises(DamagedFileError) as info:
        read_json(path, "delete the shard and rerun its job", "provenance record")
    message = str(info.value)
    assert isinstance(info.value, UserError) and f"provenance record {path} is damaged" in message
    assert "delete the shard and rerun its job" in message and "\n" not in message


def test_a_shard_with_a_damaged_provenance_record_is_named(tmp_path):
    from diffusion_classifier.artifacts import DamagedFileError, read_shard
    from diffusion_classifier.artifacts.store import SHARD_FILES

    shard = tmp_path / "shard-000"
    shard.mkdir()
    for name in SHARD_FILES:
        (shard / name).write_bytes(b"")
    (shard / "provenance.json").write_text('{"files": {"errors.parquet": "ab')  # cut off mid-write
    with pytest.raises(DamagedFileError, match=r"provenance record .*shard-000/provenance.json is damaged"):
        read_shard(shard)

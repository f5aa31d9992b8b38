"""Provenance fingerprints: files are hashed in one streaming way everywhere (weights, shards, inputs)."""

import hashlib
from pathlib import Path

from diffusion_classifier.artifacts import file_sha256


def test_sha256_streams_files_larger_than_one_chunk(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.56 MB > the 1 MiB chunk
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(path, chunk_size=7) == file_sha256(path)

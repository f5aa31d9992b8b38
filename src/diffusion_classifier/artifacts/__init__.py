"""Artifacts: atomic writes, the per-pair error store and the provenance recorded with every output."""

from .io import DamagedFileError, atomic_directory, atomic_path, atomic_write_text, read_json, write_frame, write_json
from .provenance import (
    ChecksumError,
    check_sha256,
    code_version,
    config_hash,
    engine_code_sha256,
    environment,
    file_sha256,
    files_sha256,
    verify_sha256,
)
from .timing import read_timing, timing_path, write_timing
from .store import ERROR_PREFIX, Shard, ShardError, ShardWriter, read_errors, read_images, read_shard, verify_shard

__all__ = [
    "ChecksumError",
    "DamagedFileError",
    "ERROR_PREFIX",
    "Shard",
    "ShardError",
    "ShardWriter",
    "atomic_directory",
    "atomic_path",
    "atomic_write_text",
    "check_sha256",
    "code_version",
    "config_hash",
    "engine_code_sha256",
    "environment",
    "file_sha256",
    "files_sha256",
    "read_errors",
    "read_json",
    "read_images",
    "read_shard",
    "read_timing",
    "timing_path",
    "verify_sha256",
    "verify_shard",
    "write_frame",
    "write_json",
    "write_timing",
]

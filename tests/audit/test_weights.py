"""Weight registry and checksum verification: unknown digests are reported, wrong ones refused."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import pytest

from diffusion_classifier.audit import (
    ChecksumMismatchError,
    get_weights_spec,
    load_aesthetic_head,
    load_nsfw_head,
    register_weights,
    verify_weights_file,
)
from diffusion_classifier.audit.weights import AESTHETIC_L14, NSFW_L14


def test_registry_records_published_sources() -> None:
    aesthetic = get_weights_spec(AESTHETIC_L14)
    assert aesthetic.filename == "sac+logos+ava1-l14-linearMSE.pth"
    assert aesthetic.url == (
        "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/"
        "sac%2Blogos%2Bava1-l14-linearMSE.pth"
    )
    nsfw = get_weights_spec(NSFW_L14)
    assert nsfw.url == (
        "https://raw.githubusercontent.com/LAION-AI/CLIP-based-NSFW-Detector/main/"
        "clip_autokeras_binary_nsfw.zip"
    )
    assert nsfw.format == "safetensors"


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(KeyError, match=AESTHETIC_L14):
        get_weights_spec("no-such-weights")


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_weights(get_weights_spec(AESTHETIC_L14))


def test_unknown_digest_is_computed_and_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    spec = dataclasses.replace(get_weights_spec(AESTHETIC_L14), sha256=None)
    with caplog.at_level(logging.WARNING):
        check = verify_weights_file(path, spec)
    digest = hashlib.sha256(b"weights").hexdigest()
    assert (check.sha256, check.expected_sha256, check.verified) == (digest, None, False)
    assert digest in caplog.text and "no expected sha256" in caplog.text


def test_matching_digest_is_verified(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    spec = dataclasses.replace(get_weights_spec(AESTHETIC_L14), sha256=digest.upper())
    check = verify_weights_file(path, spec)
    assert check.verified and check.sha256 == digest


def test_mismatch_names_file_both_hashes_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"tampered")
    expected = "ab" * 32
    spec = dataclasses.replace(get_weights_spec(AESTHETIC_L14), sha256=expected)
    with pytest.raises(ChecksumMismatchError) as info:
        verify_weights_file(path, spec)
    message = str(info.value)
    for part in (str(path), expected, hashlib.sha256(b"tampered").hexdigest(), "Fix", spec.url):
        assert part in message


@pytest.mark.parametrize("loader", [load_aesthetic_head, load_nsfw_head])
def test_loaders_refuse_before_reading(tmp_path: Path, loader) -> None:
    """A wrong digest stops the loader before it parses the file (garbage here)."""
    path = tmp_path / "weights"
    path.write_bytes(b"not a weight file at all")
    name = AESTHETIC_L14 if loader is load_aesthetic_head else NSFW_L14
    spec = dataclasses.replace(get_weights_spec(name), sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="refusing"):
        loader(path, spec=spec)


def test_missing_file_says_where_to_get_it(tmp_path: Path) -> None:
    spec = get_weights_spec(AESTHETIC_L14)
    with pytest.raises(FileNotFoundError, match="download it from"):
        verify_weights_file(tmp_path / "absent.pth", spec)

"""Registry and checksum verification of the LAION filter-weight files.

The Table 2 audit depends on two small third-party heads (aesthetic, NSFW). Their results
are only reproducible if we know exactly which bytes were scored with, so every weight
file is described by a :class:`WeightsSpec` (where it comes from, what it should hash to)
and goes through :func:`verify_weights_file` before anything reads it. A known checksum
that does not match is refused; an unknown one is computed and reported so that it can be
recorded in the registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from diffusion_classifier.artifacts.provenance import file_sha256
from diffusion_classifier.errors import UserError

logger = logging.getLogger(__name__)

WeightsFormat = Literal["torch-state-dict", "safetensors"]



@dataclass(frozen=True)
class WeightsSpec:
    """Where a filter-weight file comes from and what it must hash to.

    Attributes:
        name: Registry key.
        filename: File name the audit looks for inside a weights directory.
        url: Public source of the weights (for the NSFW head: the Keras original that
            :func:`diffusion_classifier.audit.nsfw.convert_keras_nsfw` converts).
        sha256: Expected hex digest of ``filename``, or None while not yet recorded.
        format: How the file is serialised.
        description: One line for humans.
    """

    name: str
    filename: str
    url: str
    sha256: str | None
    format: WeightsFormat
    description: str


@dataclass(frozen=True)
class WeightsCheck:
    """Outcome of verifying one weight file; saved beside audit results as provenance.

    Attributes:
        name: Registry key of the spec that was checked.
        path: The file that was hashed.
        sha256: Computed hex digest.
        expected_sha256: Digest the spec required, or None when none was recorded.
        verified: True when an expected digest existed and matched.
    """

    name: str
    path: str
    sha256: str
    expected_sha256: str | None
    verified: bool


class ChecksumMismatchError(UserError, RuntimeError):
    """A weight file's sha256 differs from the one recorded in its spec."""


AESTHETIC_L14 = "laion-aesthetic-l14"
NSFW_L14 = "laion-nsfw-l14"

WEIGHTS: dict[str, WeightsSpec] = {}


def register_weights(spec: WeightsSpec) -> WeightsSpec:
    """Add ``spec`` to :data:`WEIGHTS`.

    Args:
        spec: The entry to register.

    Returns:
        The same spec, so that module-level registration reads as an assignment.

    Raises:
        ValueError: If the name is already registered.
    """
    if spec.name in WEIGHTS:
        raise ValueError(f"weights {spec.name!r} are already registered")
    WEIGHTS[spec.name] = spec
    return spec


def get_weights_spec(name: str) -> WeightsSpec:
    """Look up a registered weight file by name.

    Args:
        name: Registry key.

    Returns:
        The registered spec.

    Raises:
        KeyError: For an unknown name, listing the known ones.
    """
    try:
        return WEIGHTS[name]
    except KeyError:
        raise KeyError(f"unknown filter weights {name!r}; known: {sorted(WEIGHTS)}") from None


register_weights(
    WeightsSpec(
        name=AESTHETIC_L14,
        filename="sac+logos+ava1-l14-linearMSE.pth",
        url=(
            "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/"
            "sac%2Blogos%2Bava1-l14-linearMSE.pth"
        ),
        # Not yet recorded: the first verified download should fill this in.
        sha256=None,
        format="torch-state-dict",
        description="LAION improved aesthetic predictor (MLP on CLIP ViT-L/14 embeddings)",
    )
)

register_weights(
    WeightsSpec(
        name=NSFW_L14,
        filename="clip_autokeras_binary_nsfw.safetensors",
        url=(
            "https://raw.githubusercontent.com/LAION-AI/CLIP-based-NSFW-Detector/main/"
            "clip_autokeras_binary_nsfw.zip"
        ),
        # The file is our own one-time conversion of the Keras model; its digest depends
        # on the conversion and is recorded after the first conversion.
        sha256=None,
        format="safetensors",
        description="LAION CLIP-based NSFW detector for ViT-L/14, converted from Keras",
    )
)


def verify_weights_file(path: str | Path, spec: WeightsSpec) -> WeightsCheck:
    """Hash ``path`` and compare it with ``spec.sha256`` before the file is read.

    Args:
        path: The weight file.
        spec: What the file is supposed to be.

    Returns:
        The check, with ``verified`` False when the spec records no digest yet (the
        computed digest is logged so that it can be added to the registry).

    Raises:
        FileNotFoundError: If the file does not exist.
        ChecksumMismatchError: If the spec records a digest and the file differs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights {spec.name!r}: file {path} not found; download it from {spec.url}"
        )
    actual = file_sha256(path)
    expected = spec.sha256.lower() if spec.sha256 else None
    if expected is None:
        logger.warning(
            "weights %r: no expected sha256 recorded; computed sha256 of %s is %s "
            "(record it in diffusion_classifier.audit.weights to pin this file)",
            spec.name,
            path,
            actual,
        )
        return WeightsCheck(spec.name, str(path), actual, None, verified=False)
    if actual != expected:
        raise ChecksumMismatchError(
            f"refusing to use weights {spec.name!r} from {path}: sha256 is {actual}, "
            f"expected {expected}. Fix: replace the file with the original from {spec.url} "
            "(or rerun the one-time conversion), or, if the new file is intended, update "
            "the sha256 recorded in diffusion_classifier.audit.weights."
        )
    return WeightsCheck(spec.name, str(path), actual, expected, verified=True)

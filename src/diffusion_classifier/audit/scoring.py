"""Per-image LAION filter scores for one prepared dataset (the input of Table 2).

Resolution comes from the manifest; aesthetic and punsafe come from heads on the CLIP
ViT-L/14 embedding of each decoded image. Filters whose weights are unavailable are left
as NaN/<NA> so that the summary reports "n/a" rather than a made-up number. Images that
cannot be decoded stay in the table with ``decode_error`` set: a silently shorter table
would bias every share.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from diffusion_classifier.artifacts.provenance import ChecksumError, check_sha256
from diffusion_classifier.audit._heads import LoadedHead
from diffusion_classifier.audit.config import AuditConfig
from diffusion_classifier.audit.filters import EMBEDDING_FILTERS, EmbeddingFilter
from diffusion_classifier.audit.embedding import CLIP_L14_DIM, EmbedFn, l2_normalize
from diffusion_classifier.audit.resolution import passes_resolution
from diffusion_classifier.audit.weights import get_weights_spec
from diffusion_classifier.data.images import convert_image, opened

logger = logging.getLogger(__name__)

SCORE_COLUMNS: tuple[str, ...] = (
    "image_id",
    "orig_width",
    "orig_height",
    "passes_resolution",
    "aesthetic",
    "passes_aesthetic",
    "punsafe",
    "passes_nsfw",
    "decode_error",
)


def _filter(name: str) -> EmbeddingFilter:
    try:
        return EMBEDDING_FILTERS[name]
    except KeyError:
        known = sorted(EMBEDDING_FILTERS)
        raise KeyError(f"unknown filter head {name!r}; known: {known}") from None


def load_filter_heads(
    weights_dir: str | Path,
    device: str | torch.device = "cpu",
    names: tuple[str, ...] | None = None,
    expected_sha256: Mapping[str, str] | None = None,
) -> dict[str, LoadedHead]:
    """Load every filter head whose weight file is present in ``weights_dir``.

    A missing file is not an error: the filter is reported as n/a and a warning says
    where to get it. A present file with a wrong checksum or layout is an error.

    Args:
        weights_dir: Directory holding files named as in the weights registry.
        device: Where the heads run.
        names: Filters to try (default: all registered).
        expected_sha256: Filter name -> digest its file must have, pinning files whose
            registry entry records none yet (from the workflow config).

    Returns:
        Filter name -> loaded head, for the filters whose weights exist.
    """
    heads: dict[str, LoadedHead] = {}
    for name in names or tuple(EMBEDDING_FILTERS):
        spec = get_weights_spec(_filter(name).weights)
        path = Path(weights_dir) / spec.filename
        if not path.is_file():
            logger.warning(
                "%s weights not found at %s (source: %s); reporting n/a", name, path, spec.url
            )
            continue
        if expected_sha256 and expected_sha256.get(name):
            spec = replace(spec, sha256=expected_sha256[name])
        heads[name] = _filter(name).load(path, spec=spec, device=device)
    return heads


def _resolve(root: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else root / candidate


def _decode(path: Path, expected_sha256: str | None, manifest: Path | None) -> Image.Image:
    """Decode one image, after checking its bytes against the manifest's sha256 (when the
    manifest has a ``sha256`` column, as every prepared dataset's does)."""
    data = path.read_bytes()
    if manifest is not None:
        check_sha256(hashlib.sha256(data).hexdigest(), expected_sha256, path, manifest,
                     "re-run the download rule for this dataset (delete its directory first)")
    with opened(data, name=str(path)) as image:
        return convert_image(image, "RGB", name=str(path))


def _as_module(head: LoadedHead | nn.Module) -> nn.Module:
    return head.model if isinstance(head, LoadedHead) else head


def score_manifest(
    manifest: pd.DataFrame,
    root: str | Path,
    embed: EmbedFn | None = None,
    heads: Mapping[str, LoadedHead | nn.Module] | None = None,
    config: AuditConfig = AuditConfig(),
    progress: bool = True,
) -> pd.DataFrame:
    """Score every manifest row with the resolution, aesthetic and NSFW filters.

    Every image is decoded (a decode failure is recorded whether or not heads are given);
    embeddings are computed only when at least one head is given, L2-normalised here,
    and shared by all heads.

    Args:
        manifest: Rows with ``image_id``, ``path``, ``orig_width``, ``orig_height`` and, as
            every prepared dataset has, ``sha256``: each image's bytes are checked against it
            (in ``root / "manifest.csv"``) before they are decoded.
        root: Directory that relative ``path`` values are relative to.
        embed: ``embed(images) -> Tensor [N, 768]``; required when ``heads`` is non-empty.
        heads: Filter name (see :data:`EMBEDDING_FILTERS`) -> head; absent filters are n/a.
        config: Thresholds and batch size.
        progress: Show a tqdm progress bar.

    Returns:
        One row per manifest row, in manifest order, with :data:`SCORE_COLUMNS`. Scores
        are float (NaN when not computed), decisions nullable booleans (<NA> when not
        computed), ``decode_error`` an empty string on success.

    Raises:
        KeyError: For an unknown head name or missing manifest columns.
        ValueError: If heads are given without ``embed`` or ``embed`` returns a wrong shape.
        ChecksumError: An image differs from its manifest sha256 (or has none recorded).
    """
    root = Path(root)
    active = {name: _as_module(head) for name, head in (heads or {}).items()}
    for name in active:
        _filter(name)
    if active and embed is None:
        raise ValueError(f"heads {sorted(active)} need an embed function")
    rows = manifest.reset_index(drop=True)
    missing = [c for c in ("image_id", "path") if c not in rows.columns]
    if missing:
        raise KeyError(f"manifest lacks column(s) {missing}")

    n = len(rows)
    scores = {name: np.full(n, np.nan) for name in EMBEDDING_FILTERS}
    errors = [""] * n
    paths = [_resolve(root, p) for p in rows["path"].astype(str)]
    hashed = "sha256" in rows.columns
    expected = [v if isinstance(v, str) else None for v in rows["sha256"]] if hashed else [None] * n
    manifest = root / "manifest.csv" if hashed else None
    batch = config.batch_size
    for start in tqdm(
        range(0, n, batch),
        total=math.ceil(n / batch),
        desc="audit",
        unit="batch",
        disable=not progress,
    ):
        images, decoded = [], []
        for i in range(start, min(n, start + batch)):
            try:
                images.append(_decode(paths[i], expected[i], manifest))
                decoded.append(i)
            except ChecksumError:
                raise  # an altered file is refused, not recorded as undecodable
            except Exception as exc:  # any failure to decode is what we record
                errors[i] = f"{type(exc).__name__}: {exc}"
        if not (active and images):
            continue
        embeddings = embed(images)  # type: ignore[misc]  # checked above
        if tuple(embeddings.shape) != (len(images), CLIP_L14_DIM):
            raise ValueError(
                f"embed returned shape {tuple(embeddings.shape)}, expected "
                f"({len(images)}, {CLIP_L14_DIM})"
            )
        embeddings = l2_normalize(embeddings.detach())
        with torch.inference_mode():
            for name, module in active.items():
                device = next(module.parameters()).device
                out = module(embeddings.to(device)).float().cpu().numpy()
                scores[name][decoded] = out

    n_failed = sum(bool(e) for e in errors)
    if n_failed:
        logger.warning(
            "%d of %d images could not be decoded; kept with decode_error set", n_failed, n
        )

    table = pd.DataFrame(
        {
            "image_id": rows["image_id"].astype(str).to_numpy(),
            "orig_width": rows["orig_width"].to_numpy(),
            "orig_height": rows["orig_height"].to_numpy(),
            "passes_resolution": passes_resolution(rows, config.min_side).to_numpy(),
        }
    )
    for name, spec in EMBEDDING_FILTERS.items():
        values = scores[name]
        defined = ~np.isnan(values)
        decision = pd.array(np.zeros(n, dtype=bool), dtype="boolean")
        decision[defined] = spec.passes(values[defined], config)
        decision[~defined] = pd.NA
        table[spec.score_column] = values
        table[spec.pass_column] = decision
    table["decode_error"] = errors
    return table[list(SCORE_COLUMNS)]


def decode_failures(scores: pd.DataFrame) -> pd.DataFrame:
    """The images that could not be decoded, with the error of each.

    Args:
        scores: Output of :func:`score_manifest`.

    Returns:
        Columns ``image_id`` and ``decode_error``, one row per failure.
    """
    failed = scores["decode_error"].astype(str) != ""
    return scores.loc[failed, ["image_id", "decode_error"]].reset_index(drop=True)

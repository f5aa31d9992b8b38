"""The resolution filter of SD 2.0's 512 stage: original width and height both >= 512.

It reads the original sizes recorded in the manifest (``orig_width``, ``orig_height``),
not the decoded files, because datasets may be stored resized while the filter concerns
the image as published.
"""

from __future__ import annotations

import pandas as pd

SIZE_COLUMNS: tuple[str, str] = ("orig_width", "orig_height")


def passes_resolution(manifest: pd.DataFrame, min_side: int = 512) -> pd.Series:
    """Vectorised resolution filter over a manifest.

    Args:
        manifest: Manifest with integer ``orig_width`` and ``orig_height`` columns.
        min_side: Minimum for both sides, inclusive.

    Returns:
        Boolean Series aligned with ``manifest.index``, named ``passes_resolution``.

    Raises:
        KeyError: If a size column is missing.
        ValueError: If a size is missing or not a number, naming the affected images.
    """
    missing = [column for column in SIZE_COLUMNS if column not in manifest.columns]
    if missing:
        raise KeyError(f"manifest lacks column(s) {missing}; columns are {list(manifest.columns)}")
    sizes = manifest[list(SIZE_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    bad = sizes.isna().any(axis=1)
    if bad.any():
        has_ids = "image_id" in manifest.columns
        ids = manifest.loc[bad, "image_id"] if has_ids else manifest.index[bad]
        raise ValueError(
            f"{int(bad.sum())} manifest row(s) have no numeric original size, e.g. "
            f"{list(ids[:5])}; fix the manifest (orig_width/orig_height are required)"
        )
    passed = (sizes["orig_width"] >= min_side) & (sizes["orig_height"] >= min_side)
    return passed.astype(bool).rename("passes_resolution")

"""Audit of the LAION filters behind Stable Diffusion 2.0 (paper Table 2).

How much of each test set would SD 2.0's training filters keep? Three per-image filters:
resolution (original sides >= 512, from the manifest), aesthetic (LAION improved
aesthetic predictor >= 4.5) and safety (LAION CLIP-based NSFW detector, punsafe < 0.1),
the latter two on the L2-normalised OpenAI CLIP ViT-L/14 image embedding.

Typical use::

    heads = load_filter_heads(weights_dir, device)
    scores = score_manifest(manifest, root, load_clip_l14_embedder(device), heads)
    table = table2({"cifar10": scores})

Nothing is read or downloaded at import time; open_clip and h5py are imported only by the
functions that need them.
"""

from diffusion_classifier.audit._heads import LoadedHead, WeightsLayoutError
from diffusion_classifier.audit.aesthetic import (
    AESTHETIC_STATE_LAYOUT,
    AESTHETIC_THRESHOLD,
    AESTHETIC_URL,
    AestheticHead,
    load_aesthetic_head,
)
from diffusion_classifier.audit.config import AuditConfig
from diffusion_classifier.audit.embedding import EmbedFn, l2_normalize, load_clip_l14_embedder
from diffusion_classifier.audit.nsfw import (
    NSFW_KERAS_URL,
    NSFW_STATE_LAYOUT,
    PUNSAFE_THRESHOLD,
    NSFWHead,
    convert_keras_nsfw,
    keras_nsfw_to_state,
    load_nsfw_head,
)
from diffusion_classifier.audit.resolution import passes_resolution
from diffusion_classifier.audit.scoring import (
    EMBEDDING_FILTERS,
    SCORE_COLUMNS,
    EmbeddingFilter,
    decode_failures,
    load_filter_heads,
    score_manifest,
)
from diffusion_classifier.audit.summary import (
    TABLE2_COLUMNS,
    format_table2,
    pass_share,
    summarize_scores,
    table2,
)
from diffusion_classifier.audit.weights import (
    WEIGHTS,
    ChecksumMismatchError,
    WeightsCheck,
    WeightsSpec,
    get_weights_spec,
    register_weights,
    verify_weights_file,
)

__all__ = [
    "AESTHETIC_STATE_LAYOUT",
    "AESTHETIC_THRESHOLD",
    "AESTHETIC_URL",
    "EMBEDDING_FILTERS",
    "NSFW_KERAS_URL",
    "NSFW_STATE_LAYOUT",
    "PUNSAFE_THRESHOLD",
    "SCORE_COLUMNS",
    "TABLE2_COLUMNS",
    "WEIGHTS",
    "AestheticHead",
    "AuditConfig",
    "ChecksumMismatchError",
    "EmbedFn",
    "EmbeddingFilter",
    "LoadedHead",
    "NSFWHead",
    "WeightsCheck",
    "WeightsLayoutError",
    "WeightsSpec",
    "convert_keras_nsfw",
    "decode_failures",
    "format_table2",
    "get_weights_spec",
    "keras_nsfw_to_state",
    "l2_normalize",
    "load_aesthetic_head",
    "load_clip_l14_embedder",
    "load_filter_heads",
    "load_nsfw_head",
    "pass_share",
    "passes_resolution",
    "register_weights",
    "score_manifest",
    "summarize_scores",
    "table2",
    "verify_weights_file",
]

"""Audit of the LAION filters behind Stable Diffusion 2.0 (paper Table 2).

How much of each test set would SD 2.0's training filters keep? Three per-image filters:
resolution (original sides >= 512, from the manifest), aesthetic (LAION improved
aesthetic predictor >= 4.5) and safety (LAION CLIP-based NSFW detector, punsafe < 0.1),
the latter two on the L2-normalised OpenAI CLIP ViT-L/14 image embedding.

Typical use::

    heads = load_filter_heads(weights_dir, device)
    scores = score_manifest(manifest, root, load_clip_l14_embedder(device), heads)
    table = table2({"cifar10": scores})

Nothing is read or downloaded at import time, and the names below load on first use
(``lazy_loader``, SPEC 1): the weight registry (:mod:`.weights`) and the Table 2 summary
(:mod:`.summary`) import no torch; open_clip and h5py are imported only by the
functions that need them.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "_heads": ["LoadedHead", "WeightsLayoutError"],
        "aesthetic": ["AESTHETIC_STATE_LAYOUT", "AESTHETIC_THRESHOLD", "AESTHETIC_URL", "AestheticHead",
                      "load_aesthetic_head"],
        "config": ["AuditConfig"],
        "embedding": ["EmbedFn", "l2_normalize", "load_clip_l14_embedder"],
        "nsfw": ["NSFW_KERAS_URL", "NSFW_STATE_LAYOUT", "PUNSAFE_THRESHOLD", "NSFWHead", "convert_keras_nsfw",
                 "keras_nsfw_to_state", "load_nsfw_head"],
        "resolution": ["passes_resolution"],
        "filters": ["EMBEDDING_FILTERS", "EmbeddingFilter"],
        "scoring": ["SCORE_COLUMNS", "decode_failures", "load_filter_heads", "score_manifest"],
        "summary": ["TABLE2_COLUMNS", "format_table2", "pass_share", "summarize_scores", "table2"],
        "weights": ["WEIGHTS", "ChecksumMismatchError", "WeightsCheck", "WeightsSpec", "get_weights_spec",
                    "register_weights", "verify_weights_file"],
    },
)

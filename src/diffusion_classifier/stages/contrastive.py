"""Stage ``evaluate_contrastive``: the contrastive (CLIP-analogue) row of the miniature Table 3.

Trains :mod:`diffusion_classifier.baselines.contrastive` on a caption-pair dataset's
corpus (``captions.csv``) and writes the same two artifacts as ``aggregate_pairs``
(per-example outcomes and a summary with text / image / group scores), so
``make_compositional_table`` puts it beside the diffusion classifier unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ._registry import stage

__all__ = ["evaluate_contrastive"]


@stage("evaluate-contrastive", threads=True)
def evaluate_contrastive(dataset_dir: str | Path, train: dict, output_examples: str | Path, output_summary: str | Path,
                         *, split: str = "test", group_by: tuple[str, ...] = ("collapsed_tag",),
                         names: dict | None = None) -> dict:
    """Train on the corpus of ``dataset_dir``, score its ``split`` examples, write outcomes and summary."""
    import pandas as pd

    from ..artifacts import write_frame, code_version, write_json
    from ..baselines.contrastive import ContrastiveConfig, outcomes, train_contrastive
    from ..compositional.scores import CHANCE, summarise_examples
    from ..data import load_dataset
    from ..data.pairs import load_captions, load_examples
    from ..specs import from_dict

    config = from_dict(ContrastiveConfig, train, "contrastive train settings")
    dataset = load_dataset(dataset_dir)
    model, vocabulary, losses = train_contrastive(dataset, load_captions(dataset), config)
    frame = outcomes(model, vocabulary, dataset, load_examples(dataset, split), config.image_size)
    weights = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.state_dict().values())).hexdigest()
    summary = {
        **(names or {}),
        "loss": "cosine",
        "chance": CHANCE,
        "subsets": summarise_examples(frame, tuple(group_by)),
        "passes_per_image": 1,  # one image-encoder pass; captions are encoded once
        "model_id": "contrastive",
        "weights_sha256": weights,
        "train": vars(config) | {"final_loss": sum(losses[-20:]) / len(losses[-20:])},
        "scoring_config": {"loss": "cosine", "schedule": {"evaluations": [1], "keep": [1]}},
        "shards": [{"code_version": code_version(), "config_hash": weights[:16], "device": "cpu"}],
    }
    write_frame(pd.DataFrame(frame), output_examples)
    write_json(output_summary, summary)
    return summary

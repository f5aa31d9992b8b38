"""Stage ``figure_noise_pairing``: paper Figure 2 for one image and two classes.

The image is scored against the two classes at ``evaluations`` evenly spaced
timesteps (1000: every t, as in the paper) once per fixed noise eps_i, each eps_i
used at every t, with the same engine and conditioning table as classification.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..specs import NoisePairingSpec
from ._registry import stage

if TYPE_CHECKING:
    import pandas as pd
    import torch

__all__ = ["error_curves", "figure_noise_pairing"]

log = logging.getLogger(__name__)


def error_curves(predictor, x0: torch.Tensor, conditioning: torch.Tensor, names: list[str], noises: torch.Tensor,
                 evaluations: int, batch_size: int = NoisePairingSpec.batch_size) -> pd.DataFrame:
    """l2 errors of ``x0`` for each condition row, each noise held fixed across the timesteps.

    Args:
        x0: The input in the model's space, ``[C, H, W]``.
        conditioning: Conditioning table rows of the compared conditions.
        names: A name per conditioning row.
        noises: ``[num_noises, C, H, W]``; noise ``i`` is used at every timestep.
        evaluations: Evenly spaced timesteps on the engine's grid.

    Returns:
        One row per (noise, timestep, condition): ``noise, timestep, condition, error``.
    """
    import pandas as pd
    import torch

    from ..engine import DiffusionClassifier
    from ..specs import StrategySpec

    with torch.no_grad():
        config = StrategySpec(evaluations=[evaluations], keep=[1], loss="l2").scoring_config(
            predictor.num_train_timesteps, batch_size, device=predictor.device)
        classifier = DiffusionClassifier(predictor, conditioning, config)
        frames = []
        for i, eps in enumerate(noises):
            scores = classifier.classify(x0, eps.expand(config.schedule.num_noise, *eps.shape))
            frames.append(pd.DataFrame({"noise": i, "timestep": scores.timestep,
                                        "condition": [names[c] for c in scores.condition],
                                        "error": scores.errors["l2"]}))
        return pd.concat(frames, ignore_index=True)


def _pick_image(dataset, spec: NoisePairingSpec) -> pd.Series:
    rows = dataset.split(spec.split).sort_values("image_id", kind="stable")
    if spec.image is not None:
        chosen = rows[rows["image_id"].astype(str) == spec.image]
        if chosen.empty:
            raise ValueError(f"noise_pairing.image {spec.image!r} is not in split {spec.split!r} of {dataset.root}")
        return chosen.iloc[0]
    label = dataset.classes.index(spec.classes[0])
    chosen = rows[rows["label"] == label]
    if chosen.empty:
        raise ValueError(f"{dataset.root}: split {spec.split!r} has no image of class {spec.classes[0]!r}")
    return chosen.iloc[0]


@stage("figure-noise-pairing", threads=True)
def figure_noise_pairing(dataset_dir: str | Path, checkpoint: str | Path, model: dict, spec: dict,
                         output_png: str | Path, output_csv: str | Path, output_json: str | Path, *,
                         prompts_dir: str | Path | None = None) -> dict:
    """Figure 2: one image's error at every t for fixed noises and two classes.

    Writes ``output_png`` (the figure), ``output_csv`` (every error) and ``output_json``
    (statistics, provenance).
    """
    import torch

    from ..artifacts import code_version, environment, write_frame, write_json, write_timing
    from ..data import load_dataset
    from ..engine import draw_noise, image_seed
    from ..reporting.noise_pairing import normalize_errors, pairing_statistics, plot_noise_pairing
    from ..runs.classifier import candidate_labels, run_conditioning
    from ..specs import ModelSpec, from_dict

    spec = from_dict(NoisePairingSpec, spec, "noise_pairing")
    model_spec = from_dict(ModelSpec, model, "model")
    dataset = load_dataset(dataset_dir)
    unknown = [name for name in spec.classes if name not in dataset.classes]
    if unknown:
        raise ValueError(f"noise_pairing.classes {unknown} are not classes of {dataset.root} "
                         f"(classes.csv: {dataset.classes[:10]}...)")
    predictor = model_spec.load(checkpoint, spec.device)
    table, _ = run_conditioning(model_spec.adapter, predictor, dataset, model_spec, prompts_dir, None)
    # The conditioning rows of the two classes (a class with several model ids: its first).
    labels_of = list(candidate_labels(dataset, model_spec.adapter))
    rows = [labels_of.index(dataset.classes.index(name)) for name in spec.classes]

    image = _pick_image(dataset, spec)
    pixels = model_spec.transform(dataset.load_image(image)).unsqueeze(0)
    x0 = predictor.encode(pixels.to(predictor.device, predictor.dtype))[0]
    image_id = str(image["image_id"])
    noises = torch.stack([draw_noise(image_seed(spec.seed, f"{image_id}/eps{i}"), 1, tuple(x0.shape))[0]
                          for i in range(spec.noises)])
    start = time.perf_counter()
    frame = normalize_errors(error_curves(predictor, x0, table[rows], list(spec.classes), noises,
                                          spec.evaluations, spec.batch_size))
    seconds = time.perf_counter() - start
    stats = pairing_statistics(frame)
    log.info("%s: error std across noises %s, difference std %.4g (%.1fx smaller)", image_id,
             stats["error_std_across_noises"], stats["difference_std_across_noises"], stats["reduction"])

    write_frame(frame, output_csv, float_format="%.6g")
    plot_noise_pairing(frame, output_png,
                       f"{spec.dataset} / {spec.model}: image {image_id} (class {spec.classes[0]})")
    summary = {**stats, "image_id": image_id, "label": dataset.classes[int(image["label"])],
               "dataset": spec.dataset, "model": spec.model, "model_id": predictor.model_id,
               "weights_sha256": predictor.weights_hash(), "spec": vars(spec),
               "passes": len(frame), "code_version": code_version(), "environment": environment()}
    write_timing(output_json, {"seconds": seconds})
    write_json(output_json, summary)
    return summary

"""Stage ``classify``: a user's own images with a user's own diffusion model (no workflow)."""

from __future__ import annotations

from pathlib import Path

from ..specs import ScoringSpec
from ._registry import stage

__all__ = ["classify"]


@stage("classify", threads=True, user=True)
def classify(checkpoint: str, images: str, classes: list[str], output: str, *, template: str | None = None,
             prompts: list[str] | None = None, class_ids: list[int] | None = None, adapter: str | None = None,
             strategy: str = "25", image_size: int | None = None, dtype: str = "float32", device: str = "auto",
             batch_size: int = ScoringSpec.batch_size, seed: int = 0, output_pairs: str | None = None,
             skip_bad_images: bool = False) -> Path:
    """Classify a folder of your own images with your own diffusion model.

    Args:
        checkpoint: Hub id or local diffusers directory of the model.
        images: Folder of images (searched recursively; an image in a subfolder named like a
            class is labelled with it).
        classes: Candidate class names.
        output: CSV, one row per image: prediction, label, passes, seconds,
            mean_error_<class> (mean over the timesteps evaluated for the class) and
            evaluations_<class> (how many: an adaptive strategy evaluates the classes it
            drops early fewer times, so compare means of equal counts), skipped (why an
            image was not scored, else empty).
        template: Text-conditional models: e.g. ``"a photo of a {}."``.
        prompts: Text-conditional models: one prompt per class.
        class_ids: Class-conditional models: the model's id of each class (default 0..N-1).
        adapter: Adapter name (default: detected from the checkpoint).
        strategy: ``EVALS[:KEEP][@LOSS]``, e.g. 25 or 25,100:5,1 or 25@l1, or a JSON strategy.
        image_size: Input size (default: the model's).
        dtype: Weights dtype on an accelerator.
        device: ``auto``, ``cpu``, ``cuda``, ...
        batch_size: Noised inputs per forward pass.
        seed: Seed of the noise.
        output_pairs: Keep every evaluated pair here (an error-store shard). Without it they
            are kept in OUTPUT.pairs while scoring and removed once the CSV is written.
            Either way each image is saved as soon as it is scored, so after a crash or
            Ctrl-C the same command scores only the images not yet done.
        skip_bad_images: Leave out the images that cannot be read and list them in the CSV
            with the reason (by default the first one stops the command before scoring).
    """
    import shutil
    import sys

    from ..classify import ZeroShotClassifier
    from ..runs import UserImages
    from dataclasses import replace

    # Checked before the model loads (seconds to minutes): the images, the output's place.
    source = UserImages.from_folder(images, classes)
    if source.label_note():
        print(f"warning: {source.label_note()}", file=sys.stderr)
    source = source.check(skip=skip_bad_images)
    for image_id, why in source.skipped.items():
        print(f"warning: skipped {image_id}: {why}", file=sys.stderr)
    output_path = Path(output)
    if output_path.is_dir():
        raise ValueError(f"--output {output} is a folder: give the CSV file to write")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    store = Path(output_pairs) if output_pairs is not None else output_path.with_name(output_path.name + ".pairs")

    image = {"size": image_size} if image_size is not None else None
    clf = ZeroShotClassifier.load(checkpoint, classes, template=template, prompts=prompts, class_ids=class_ids,
                                  adapter=adapter, strategy=strategy, image=image, dtype=dtype, device=device,
                                  seed=seed, batch_size=batch_size)
    result = clf.classify_source(replace(source, prompts=clf.prompts), out=store)
    path = result.to_csv(output)  # atomically, from the finished store
    if output_pairs is None:
        shutil.rmtree(store)
    accuracy, labelled = result.accuracy, int((result.predictions["label"] != "").sum())
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    print(f"{len(result.predictions)} images scored{skipped}, {clf.passes_per_image} passes per image -> {path}"
          + (f" (accuracy on the {labelled} labelled images: {100 * accuracy:.1f}%)" if accuracy is not None else ""))
    return path

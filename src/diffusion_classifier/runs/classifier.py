"""The candidates a run scores and their conditioning table.

A prepared dataset's candidates come from its class table (a class-conditional model
scores each model id of the class map, a text-conditional one a prompt per class);
a user's come from class names with ids or prompts. Either way the adapter registry
(:func:`~diffusion_classifier.models.build_conditioning`) turns them into the table
the engine's :class:`~diffusion_classifier.engine.DiffusionClassifier` scores against.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from ..models import ConditionSpec
    from ..models.prompts import PromptSpec
    from ..specs import ModelSpec

__all__ = ["candidate_labels", "condition_spec", "detect_adapter", "model_image", "run_conditioning",
           "user_condition"]


def candidate_labels(dataset, adapter: str) -> tuple[int, ...]:
    """The label class of each candidate condition, in conditioning-table order.

    Class-conditional models score every model id of the dataset's class map (e.g.
    ObjectNet's 125 ImageNet ids for its 113 classes); text-conditional models score
    one prompt per label class and ignore the ids.
    """
    from ..models import adapter_uses_prompts

    if adapter_uses_prompts(adapter):
        return tuple(range(len(dataset.classes)))
    return dataset.class_map.candidate_labels


def condition_spec(dataset, model: ModelSpec, prompt: PromptSpec | None = None) -> ConditionSpec:
    """Candidate classes of a dataset as the model's adapter needs them."""
    from ..models import ConditionSpec, adapter_uses_prompts
    from ..models.prompts import class_prompts

    if adapter_uses_prompts(model.adapter):
        names = tuple(dataset.classes)
        prompts = tuple(class_prompts(dataset.class_table, prompt)["prompt"]) if prompt is not None else ()
        return ConditionSpec(class_names=names, class_ids=tuple(range(len(names))), prompts=prompts)
    class_map = dataset.class_map
    names = tuple(dataset.classes[label] for label in class_map.candidate_labels)
    return ConditionSpec(class_names=names, class_ids=class_map.candidates)


def run_conditioning(adapter: str, predictor, dataset, model_spec: ModelSpec, prompts, prompt) -> tuple:
    """The conditioning table and what it was built from (recorded in provenance).

    A text-conditional model reads the precomputed prompt table when one is given
    (the workflow always gives it) and otherwise encodes the template's prompts.
    """
    from ..models import adapter_uses_prompts, build_conditioning
    from ..models.prompts import PromptSpec, read_prompt_table
    from ..specs import from_dict

    if prompts is not None:
        if not adapter_uses_prompts(adapter):
            raise ValueError(f"a prompt table was given but adapter {adapter!r} is not text-conditional")
        table = read_prompt_table(prompts, predictor.device, predictor.dtype)
        source = {"table": str(prompts), "embeddings_sha256": table.provenance.get("embeddings_sha256"),
                  "templates": table.provenance.get("templates")}
        return table.for_classes(dataset.classes, predictor.weights_hash()), source
    prompt_spec = from_dict(PromptSpec, prompt, "prompt") if prompt else None
    if adapter_uses_prompts(adapter) and prompt_spec is None:
        raise ValueError(
            f"adapter {adapter!r} is text-conditional: give the prompt table (--prompts, written by "
            "prepare-prompts) or a prompt template (--prompt)"
        )
    spec = condition_spec(dataset, model_spec, prompt_spec)
    source = {"template": prompt_spec.template} if prompt_spec is not None else None
    return build_conditioning(adapter, predictor, spec), source


def user_condition(adapter: str, classes: Sequence[str], *, template: str | None = None,
                   prompts: Sequence[str] | None = None, class_ids: Sequence[int] | None = None) -> ConditionSpec:
    """A user's candidates: class names with a prompt each (text-conditional adapters: from
    ``template``, ``"{}"`` by default, or explicit ``prompts``) or a model class id each
    (class-conditional adapters: ``class_ids``, by default ``0..N-1``).

    Checked before the model loads, so a mistake costs no checkpoint load.
    """
    from ..models import ConditionSpec, adapter_uses_prompts
    from ..models.prompts import PromptSpec, class_prompts

    classes = [str(c) for c in classes]
    if not classes:
        raise ValueError("give at least one class name")
    if len(set(classes)) != len(classes):
        raise ValueError(f"class names repeat: {sorted({c for c in classes if classes.count(c) > 1})}")
    if adapter_uses_prompts(adapter):
        if class_ids is not None:
            raise ValueError(f"adapter {adapter!r} is text-conditional: it takes a template or prompts, not class ids")
        if prompts is None:
            prompts = class_prompts(classes, PromptSpec(template or "{}"))["prompt"].tolist()
        elif template is not None:
            raise ValueError("give a template or explicit prompts, not both")
        if len(prompts) != len(classes):
            raise ValueError(f"{len(prompts)} prompts for {len(classes)} classes: give one prompt per class")
        return ConditionSpec(class_names=tuple(classes), class_ids=tuple(range(len(classes))),
                             prompts=tuple(prompts))
    if template is not None or prompts is not None:
        raise ValueError(f"adapter {adapter!r} is class-conditional: it takes class ids, not prompts "
                         "(drop template/prompts; pass class_ids to map names to the model's ids)")
    ids = tuple(range(len(classes))) if class_ids is None else tuple(int(i) for i in class_ids)
    if len(ids) != len(classes):
        raise ValueError(f"{len(ids)} class ids for {len(classes)} classes: give one id per class")
    return ConditionSpec(class_names=tuple(classes), class_ids=ids)


def detect_adapter(checkpoint: str | Path) -> str:
    """``stable_diffusion`` when the checkpoint has a text encoder, else ``class_conditional``."""
    from ..models.loading import resolve_checkpoint

    root = resolve_checkpoint(checkpoint, weights=False)
    return "stable_diffusion" if (root / "text_encoder").is_dir() else "class_conditional"


def model_image(predictor, image: dict | None = None) -> dict:
    """The input size and channels the loaded model expects (its config, bicubic), overridden by ``image``."""
    image = dict(image or {})
    network = getattr(predictor, "unet", None)
    network = network if network is not None else getattr(predictor, "network", None)
    config = getattr(network, "config", None)
    size = getattr(config, "sample_size", None)
    vae = getattr(predictor, "vae", None)
    if size is None or config is None:
        if "size" not in image:
            raise ValueError(f"cannot tell the input size of {predictor.model_id!r}: give the image size")
        return {"channels": 3, "resample": "bicubic", **image}
    size = size[0] if isinstance(size, (list, tuple)) else int(size)
    if vae is not None:
        size, channels = size * 2 ** (len(vae.config.block_out_channels) - 1), 3
    else:
        channels = int(config.in_channels)
    return {"size": size, "channels": channels, "resample": "bicubic", **image}

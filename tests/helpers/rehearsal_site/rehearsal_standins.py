"""What the rehearsal's processes change, in one place (read by ``sitecustomize`` and by the builder).

The dress rehearsal (tests/workflow/test_rehearsal.py) runs config/paper.yaml's code paths
on CPU. Three kinds of checkpoint are named by architecture rather than read from a config
folder, so random weights at their real size would be gigabytes (OpenCLIP ViT-H/14 alone is
~4 GB) and minutes per job; for those the rehearsal's processes register narrow versions
under the same names, and the builder writes their weights in the real files:

* open_clip ``RN50``, ``ViT-L-14``, ``ViT-H-14``: one-layer towers of width 32 with the real
  embedding widths (1024, 768, 1024), so the LAION heads keep their published shapes;
* torchvision ``vit_b_16``, ``vit_l_16``, ``vit_l_32``: one encoder layer of width 16, built
  by torchvision's own ``_vision_transformer`` (its weights path and file names unchanged).

timm's ResNets and every diffusers checkpoint keep their real code: the ResNets at full
size, the diffusers models through their config files.

torchvision checks the md5 of the CIFAR-10, STL-10, Flowers102 and ImageNet archives it
reads even offline; the builder records its own files' md5 in a JSON file
(``REHEARSAL_TRUST``) and :func:`trust_md5` puts them where torchvision keeps the
published ones, exactly as tests/helpers/native_formats.py's ``trust_*`` do in-process.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

TINY_TOWER = {"width": 32, "layers": 1}
TINY_TEXT = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
OPEN_CLIP_CONFIGS = {
    "RN50": {"embed_dim": 1024, "vision_cfg": {"image_size": 224, "layers": [1, 1, 1, 1], "width": 8,
                                               "patch_size": None}, "text_cfg": TINY_TEXT},
    "ViT-L-14": {"embed_dim": 768, "vision_cfg": {"image_size": 224, "patch_size": 14, "head_width": 16,
                                                  **TINY_TOWER}, "text_cfg": TINY_TEXT},
    "ViT-H-14": {"embed_dim": 1024, "vision_cfg": {"image_size": 224, "patch_size": 14, "head_width": 16,
                                                   **TINY_TOWER}, "text_cfg": TINY_TEXT},
}
TORCHVISION_VITS = {"vit_b_16": 16, "vit_l_16": 16, "vit_l_32": 32}


def register_open_clip_configs(open_clip, config_dir: Path) -> None:
    """Write the narrow configs as ``<name>.json`` and let open_clip read them over its own."""
    config_dir.mkdir(parents=True, exist_ok=True)
    for name, config in OPEN_CLIP_CONFIGS.items():
        (config_dir / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(config_dir)


def tiny_vit(name: str, *, weights=None, progress: bool = True, **kwargs):
    """torchvision's ViT builder with one narrow encoder layer (same weights enum and file)."""
    from torchvision.models.vision_transformer import _vision_transformer

    return _vision_transformer(patch_size=TORCHVISION_VITS[name], num_layers=1, num_heads=2, hidden_dim=16,
                               mlp_dim=32, weights=weights, progress=progress, **kwargs)


def register_tiny_vits(api) -> None:
    """Replace the builders in torchvision's model registry (``models.get_model`` reads it)."""
    for name in TORCHVISION_VITS:
        original = api.BUILTIN_MODELS[name]

        @functools.wraps(original)  # keeps the weights annotation get_model_weights reads
        def builder(*, weights=None, progress: bool = True, _name=name, **kwargs):
            weights = api.get_model_weights(_name).verify(weights)
            return tiny_vit(_name, weights=weights, progress=progress, **kwargs)

        api.BUILTIN_MODELS[name] = builder


def trust_md5(module, trust: dict) -> None:
    """Point torchvision's published md5 lists of ``module`` at the builder's files."""
    name = module.__name__.rsplit(".", 1)[-1]
    if name == "cifar" and "cifar10" in trust:
        sums = trust["cifar10"]
        module.CIFAR10.train_list = [[f"data_batch_{k}", sums[f"data_batch_{k}"]] for k in range(1, 6)]
        module.CIFAR10.test_list = [["test_batch", sums["test_batch"]]]
        module.CIFAR10.meta = {"filename": "batches.meta", "key": "label_names", "md5": sums["batches.meta"]}
    elif name == "stl10" and "stl10" in trust:
        sums = trust["stl10"]
        module.STL10.train_list = [[n, sums[n]] for n in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")]
        module.STL10.test_list = [[n, sums[n]] for n in ("test_X.bin", "test_y.bin")]
    elif name == "flowers102" and "flowers102" in trust:
        files = dict(module.Flowers102._file_dict)
        files["label"] = ("imagelabels.mat", trust["flowers102"]["imagelabels.mat"])
        files["setid"] = ("setid.mat", trust["flowers102"]["setid.mat"])
        module.Flowers102._file_dict = files
    elif name == "imagenet" and "imagenet" in trust:
        meta = dict(module.ARCHIVE_META)
        meta.update({key: tuple(value) for key, value in trust["imagenet"].items()})
        module.ARCHIVE_META = meta


def trust_file() -> dict:
    path = os.environ.get("REHEARSAL_TRUST")
    return json.loads(Path(path).read_text()) if path else {}

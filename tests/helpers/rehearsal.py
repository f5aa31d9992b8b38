"""Everything config/paper.yaml reads, in miniature, under one scratch folder (the dress rehearsal).

:func:`build_rehearsal` writes, with random weights and random pixels and no network:

* the datasets in their native download formats where paper.yaml's download rules look
  (``data/raw/...``, relative to the scratch folder Snakemake runs in);
* a Hugging Face cache (``HF_HOME``) holding stabilityai/stable-diffusion-2-base,
  facebook/DiT-XL-2-256 and -512 (``.bin`` weights only, as on the hub), timm's ResNets and
  the gated facebook/winoground dataset, under their real repository ids;
* torchvision's ViT weights in ``TORCH_HOME/hub/checkpoints/<the file name of their URL>``;
* the CLIP/OpenCLIP checkpoints and the LAION filter heads at the paths paper.yaml names.

It returns the environment the rehearsal's processes run with (offline hub, the caches,
and the ``sitecustomize`` of rehearsal_site/, see rehearsal_standins.py for what it changes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import torch
import yaml

from . import native_formats as nf
from .audit_helpers import make_aesthetic_state, make_keras_nsfw
from .rehearsal_site import rehearsal_standins as standins
from .sd_helpers import build_sd_checkpoint

CHECKSUMS = "fixture-checksums.yaml"
SITE = Path(__file__).resolve().parent / "rehearsal_site"
SD_REPO = "stabilityai/stable-diffusion-2-base"
DIT_REPOS = ("facebook/DiT-XL-2-256", "facebook/DiT-XL-2-512")
WINOGROUND_REPO = "facebook/winoground"
#: paper.yaml's Figure 2 example is a Great Pyrenees against a Samoyed: both breeds are in Pets.
#: 21 training images: the opt-in seq_pets run calibrates on the first 20 of them.
PETS_BREEDS = (("great_pyrenees", 1, 2), ("samoyed", 2, 2), ("Abyssinian", 3, 1))
PETS_SPLITS = {"trainval": [(f"{breed}_{n}", c, s) for n in (1, *range(10, 16)) for breed, c, s in PETS_BREEDS],
               "test": [(f"{breed}_2", c, s) for breed, c, s in PETS_BREEDS]}


def hub_snapshot(hf_home: Path, repo_id: str, repo_type: str = "model") -> Path:
    """An empty snapshot folder of ``repo_id`` in the hub cache layout (refs/main -> a commit)."""
    kind = {"model": "models", "dataset": "datasets"}[repo_type]
    repo = hf_home / "hub" / f"{kind}--{repo_id.replace('/', '--')}"
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def imagenet_synsets() -> tuple[list[str], list[str]]:
    """The 1,000 ImageNet-1k wnids in order, and their lemmas (timm ships both lists)."""
    import timm

    info = Path(timm.__file__).parent / "data" / "_info"
    wnids = (info / "imagenet_synsets.txt").read_text().split()
    lemmas = dict(line.split("\t", 1) for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines())
    return wnids, [lemmas[w] for w in wnids]


# ------------------------------------------------------------------------------ datasets
def build_datasets(raw: Path) -> dict:
    """Every paper dataset in its download format under ``raw``; returns the md5s torchvision checks."""
    torchvision_root = raw / "torchvision"
    torchvision_root.mkdir(parents=True)
    trust = {"cifar10": nf.build_cifar10(torchvision_root), "stl10": nf.build_stl10(torchvision_root)[0],
             "flowers102": nf.build_flowers(torchvision_root)}
    nf.build_food101(torchvision_root)
    nf.build_aircraft(torchvision_root)
    nf.build_pets(torchvision_root, PETS_SPLITS)
    # ImageNet val: the official two archives, one image of each of the 1,000 classes
    # (torchvision makes a folder per class it sees; the reader wants all 1,000).
    imagenet = raw / "imagenet"
    imagenet.mkdir(parents=True)
    wnids, lemmas = imagenet_synsets()
    devkit = nf.build_devkit(imagenet, wnids, lemmas, order=range(len(wnids)), images=len(wnids))
    val_tar = nf.build_val_tar(imagenet, count=len(wnids), wrap=7)
    train_tar = nf.build_train_tar(imagenet, wnids)
    for stage in ("devkit_build", "val_build", "train_build"):
        shutil.rmtree(imagenet / stage)
    trust["imagenet"] = {name: [archive.name, nf.md5(archive)]
                         for name, archive in (("devkit", devkit), ("val", val_tar), ("train", train_tar))}
    nf.build_imagenet_v2(raw / "imagenetv2")
    nf.build_imagenet_a(raw / "imagenet-a", wnids=tuple(wnids[k] for k in (1, 4, 5)))
    nf.build_objectnet(raw / "objectnet")
    return trust


def fixture_class_names() -> dict[str, list[str]]:
    """Each zero-shot dataset's classes in label order, as the fixtures above define them."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
    from torchvision.datasets import Flowers102

    from diffusion_classifier.data.torchvision_sets import FLOWERS_CLIP_NAMES

    pets = sorted({(i.rsplit("_", 1)[0].replace("_", " "), c) for rows in PETS_SPLITS.values() for i, c, _ in rows},
                  key=lambda name_and_id: name_and_id[1])
    return {"cifar10": list(nf.CIFAR10_NAMES), "stl10": list(nf.STL10_NAMES),
            "food101": ["apple_pie", "baby_back_ribs"], "fgvc_aircraft": ["707-320", "727-200", "A300B4"],
            "oxford_pets": [name for name, _ in pets], "objectnet": ["alarm_clock", "banana"],
            "flowers102": [FLOWERS_CLIP_NAMES.get(n, n) for n in Flowers102.classes],
            "imagenet_2k": list(IMAGENET_CLASSNAMES)}


def build_prompt_tables(folder: Path, datasets: dict) -> dict[str, str]:
    """The released tables' form (``prompt,classname,classidx``) for the fixtures; returns their sha256.

    ImageNet's prompts come from open_clip's names, so the two pairs the release repeats
    (paper.yaml's ``identical_prompts``) repeat here too.
    """
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for dataset, names in fixture_class_names().items():
        spec = datasets[dataset]
        path = folder / spec["prompt_table"]["file"]
        prompts = [spec.get("prompt_template", "a photo of a {}.").format(name.replace("_", " ")) for name in names]
        pd.DataFrame({"prompt": prompts, "classname": names, "classidx": range(len(names))}).to_csv(path, index=False)
        sums[dataset] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


# -------------------------------------------------------------------------------- models
def build_stable_diffusion(hf_home: Path) -> None:
    """SD-2-base's folders (unet/, vae/, text_encoder/, tokenizer/, scheduler/, model_index.json)."""
    root = hub_snapshot(hf_home, SD_REPO)
    build_sd_checkpoint(root)
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.8.0",
        "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}))


def build_dit(hf_home: Path, repo_id: str) -> None:
    """A DiT repository as on the hub: transformer/ and vae/ hold ``diffusion_pytorch_model.bin`` only."""
    from diffusers import AutoencoderKL, DDIMScheduler, DiTTransformer2DModel

    root = hub_snapshot(hf_home, repo_id)
    torch.manual_seed(0)
    # sd-vae-ft-ema's shape where DiT's loader checks it: 3 -> 4 channels at 1/8 scale (four blocks).
    vae = AutoencoderKL(block_out_channels=[8, 8, 8, 8], in_channels=3, out_channels=3, latent_channels=4,
                        norm_num_groups=4, down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, sample_size=32)
    transformer = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8,
                                        num_layers=1, sample_size=4, patch_size=2, num_embeds_ada_norm=1000)
    vae.save_pretrained(root / "vae", safe_serialization=False)
    transformer.save_pretrained(root / "transformer", safe_serialization=False)
    config = json.loads((root / "transformer" / "config.json").read_text())
    config["_class_name"] = "Transformer2DModel"  # the hub's DiT config predates DiTTransformer2DModel
    (root / "transformer" / "config.json").write_text(json.dumps(config))
    DDIMScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", num_train_timesteps=1000,
                  clip_sample=False).save_pretrained(root / "scheduler")
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "DiTPipeline", "_diffusers_version": "0.12.0", "id2label": {},
        "scheduler": ["diffusers", "KarrasDiffusionSchedulers"], "transformer": ["diffusers", "Transformer2DModel"],
        "vae": ["diffusers", "AutoencoderKL"]}))
    assert not list(root.rglob("*.safetensors"))


def build_clip_checkpoints(paths: dict[str, str], config_dir: Path) -> None:
    """open_clip state dicts of the narrow architectures at the configured checkpoint paths."""
    import open_clip

    standins.register_open_clip_configs(open_clip, config_dir)
    for architecture, path in paths.items():
        torch.manual_seed(0)
        model = open_clip.create_model(architecture, pretrained=None, force_quick_gelu=True)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)


def build_laion_heads(folder: Path) -> None:
    """The aesthetic MLP (.pth) and the converted NSFW detector (.safetensors), random, published shapes."""
    from diffusion_classifier.audit.nsfw import convert_keras_nsfw
    from diffusion_classifier.audit.weights import AESTHETIC_L14, NSFW_L14, get_weights_spec

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(make_aesthetic_state(), folder / get_weights_spec(AESTHETIC_L14).filename)
    convert_keras_nsfw(make_keras_nsfw(), folder / get_weights_spec(NSFW_L14).filename)


def build_zoo(hf_home: Path, torch_home: Path, architectures: dict[str, dict]) -> None:
    """timm models' ``model.safetensors`` in the hub cache; torchvision weights under TORCH_HOME."""
    import timm
    from safetensors.torch import save_file
    from torchvision.models import get_model_weights

    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    for spec in architectures.values():
        torch.manual_seed(0)
        if spec["source"] == "timm":
            cfg = timm.models.get_pretrained_cfg(spec["architecture"])
            model = timm.create_model(spec["architecture"], pretrained=False)
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            save_file(state, hub_snapshot(hf_home, cfg.hf_hub_id) / "model.safetensors")
        else:
            weights = get_model_weights(spec["architecture"])[spec["weights"]]
            model = standins.tiny_vit(spec["architecture"], image_size=weights.meta["min_size"][0],
                                      num_classes=len(weights.meta["categories"]))
            torch.save(model.state_dict(), checkpoints / Path(weights.url).name)


def build_winoground(hf_home: Path) -> None:
    """The gated dataset's current hub layout (data/test-*.parquet) in the cache."""
    root = hub_snapshot(hf_home, WINOGROUND_REPO, repo_type="dataset")
    nf.fake_parquet_copy(root)


def imagenet_10k_ids(scratch: Path) -> Path:
    """imagenet_10k's 3 rehearsal images, of classes 1, 2 and 4 (fixture val image k is of class k - 1).

    paper.yaml replays Table 4's ID accuracies on ImageNet-A's and ObjectNet's classes from
    the imagenet_10k runs: the images must include those classes (the ImageNet-A fixture's
    ids 1, 4, 5; the ObjectNet fixture's 2;3 and 4), which a seeded draw of 3 of 1,000 would not.
    """
    wnids, _ = imagenet_synsets()
    path = scratch / "imagenet_10k_ids.txt"
    path.write_text("".join(f"{wnids[c]}/ILSVRC2012_val_{c + 1:08d}\n" for c in (1, 2, 4)))
    return path


# ------------------------------------------------------------------------------ together
def build_rehearsal(scratch: Path, paper: dict) -> dict[str, str]:
    """Write everything ``paper`` (config/paper.yaml, parsed) reads under ``scratch``; return the env.

    Also writes ``scratch/fixture-checksums.yaml``: the stand-in prompt tables' sha256 in
    place of the released ones, and imagenet_10k's images (:func:`imagenet_10k_ids`): the
    settings besides scale that a stand-in must change.
    """
    hf_home, torch_home = scratch / "cache" / "huggingface", scratch / "cache" / "torch"
    clip_configs = scratch / "cache" / "open_clip_configs"
    trust = build_datasets(scratch / "data" / "raw")
    (scratch / "cache").mkdir(parents=True, exist_ok=True)
    (scratch / "cache" / "trust.json").write_text(json.dumps(trust))
    tables = build_prompt_tables(scratch / paper.get("prompt_tables", {}).get("dir", "data/raw/prompts"),
                                 paper["datasets"])
    overlay = {name: {"prompt_table": {"sha256": sha}} for name, sha in tables.items()}
    overlay["imagenet_10k"] = {"options": {"subset_ids": str(imagenet_10k_ids(scratch))}}
    (scratch / CHECKSUMS).write_text(yaml.safe_dump({"datasets": overlay}))
    build_stable_diffusion(hf_home)
    for repo in DIT_REPOS:
        build_dit(hf_home, repo)
    build_winoground(hf_home)
    clip_paths = {spec["architecture"]: scratch / spec["checkpoint"]
                  for spec in paper["baselines"]["clip_models"].values()}
    clip_paths.setdefault("ViT-L-14", scratch / paper["audit"]["clip_checkpoint"])
    build_clip_checkpoints(clip_paths, clip_configs)
    build_laion_heads(scratch / paper["audit"]["weights_dir"])
    build_zoo(hf_home, torch_home, paper["zoo"]["models"])
    python_path = [str(SITE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "TORCH_HOME": str(torch_home), "REHEARSAL_TRUST": str(scratch / "cache" / "trust.json"),
            "REHEARSAL_OPEN_CLIP_CONFIGS": str(clip_configs), "PYTHONPATH": os.pathsep.join(python_path),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}

"""Tiny stand-ins of each paper dataset, written in the dataset's NATIVE on-disk format.

The real readers (torchvision's classes, our ImageNet/ObjectNet readers) run on them
unchanged. torchvision checks the md5 of CIFAR-10, STL-10 and Flowers102 files even
offline; the fixtures register their own files' md5 in place of the published ones
(``trust``), exactly the check torchvision performs on the real files.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

WNIDS = ["n00000011", "n00000022", "n00000033", "n00000044", "n00000055", "n00000066"]
WORDS = ["tench, Tinca tinca", "goldfish", "analog clock", "digital clock", "banana", "crane, bird"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def save_image(path: Path, size: tuple[int, int], seed: int, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, format=fmt)
    return path


# ------------------------------------------------------------------------- torchvision sets
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
STL10_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")


def build_cifar10(root: Path, names=CIFAR10_NAMES, per_batch: int = 4) -> dict[str, str]:
    """cifar-10-batches-py/: five data batches, a test batch, batches.meta (pickled dicts)."""
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sums = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 255, (per_batch, 3072), dtype=np.uint8)
        labels = [int(x) for x in (np.arange(per_batch) + i) % 10]
        # The release's python-2 pickles read back (encoding='latin1') with these str keys.
        (base / name).write_bytes(pickle.dumps({"data": data, "labels": labels, "batch_label": name}, protocol=2))
        sums[name] = md5(base / name)
    (base / "batches.meta").write_bytes(pickle.dumps({"label_names": list(names), "num_vis": 3072}, protocol=2))
    sums["batches.meta"] = md5(base / "batches.meta")
    return sums


def trust_cifar10(monkeypatch, sums: dict[str, str]) -> None:
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{k}", sums[f"data_batch_{k}"]] for k in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", sums["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": sums["batches.meta"]})


def build_stl10(root: Path, n_train: int = 4, n_test: int = 6) -> tuple[dict[str, str], np.ndarray]:
    """stl10_binary/: column-major uint8 images, 1-based uint8 labels, class_names.txt."""
    base = root / "stl10_binary"
    base.mkdir(parents=True)
    rng = np.random.default_rng(1)
    sums, test_images = {}, None
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 255, (n, 3, 96, 96), dtype=np.uint8)  # CHW, row-major rows
        images[:, 0, 0, :] = 255  # a red top row: checks the orientation after reading
        images[:, 1:, 0, :] = 0
        # The binary stores each channel column-major: write the HW-transposed array.
        images.transpose(0, 1, 3, 2).tofile(base / f"{split}_X.bin")
        (np.arange(n) % 10 + 1).astype(np.uint8).tofile(base / f"{split}_y.bin")
        if split == "test":
            test_images = images
    (base / "unlabeled_X.bin").write_bytes(b"")
    for name in ("train_X.bin", "train_y.bin", "unlabeled_X.bin", "test_X.bin", "test_y.bin"):
        sums[name] = md5(base / name)
    (base / "class_names.txt").write_text("\n".join(STL10_NAMES) + "\n")
    return sums, test_images


def trust_stl10(monkeypatch, sums: dict[str, str]) -> None:
    from torchvision.datasets import STL10

    monkeypatch.setattr(STL10, "train_list", [[n, sums[n]] for n in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")])
    monkeypatch.setattr(STL10, "test_list", [[n, sums[n]] for n in ("test_X.bin", "test_y.bin")])


def build_food101(root: Path) -> None:
    """food-101/meta/{train,test}.json and images/<class>/<id>.jpg."""
    base = root / "food-101"
    meta = {"train": {"apple_pie": ["apple_pie/101"], "baby_back_ribs": ["baby_back_ribs/201"]},
            "test": {"apple_pie": ["apple_pie/102", "apple_pie/103"], "baby_back_ribs": ["baby_back_ribs/202"]}}
    for split, classes in meta.items():
        for i, rel in enumerate(r for rels in classes.values() for r in rels):
            save_image(base / "images" / f"{rel}.jpg", (30 + i, 20), seed=i)
        (base / "meta").mkdir(parents=True, exist_ok=True)
        (base / "meta" / f"{split}.json").write_text(json.dumps(classes))
    (base / "meta" / "classes.txt").write_text("apple_pie\nbaby_back_ribs\n")


def build_aircraft(root: Path) -> None:
    """fgvc-aircraft-2013b/data/: variants.txt, images_variant_{trainval,test}.txt, images/."""
    data = root / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True)
    (data / "variants.txt").write_text("707-320\n727-200\nA300B4\n")
    splits = {"trainval": [("1000001", "707-320"), ("1000002", "A300B4")],
              "test": [("1000003", "727-200"), ("1000004", "A300B4"), ("1000005", "707-320")]}
    for split, rows in splits.items():
        (data / f"images_variant_{split}.txt").write_text("".join(f"{i} {v}\n" for i, v in rows))
        for k, (i, _) in enumerate(rows):
            save_image(data / "images" / f"{i}.jpg", (40, 25 + k), seed=int(i))


PETS_SPLITS = {"trainval": [("Abyssinian_1", 1, 1), ("american_bulldog_1", 2, 2)],
               "test": [("Abyssinian_2", 1, 1), ("american_bulldog_2", 2, 2), ("american_bulldog_3", 2, 2)]}


def build_pets(root: Path, splits: dict | None = None) -> None:
    """oxford-iiit-pet/annotations/{trainval,test}.txt and images/<Breed>_<n>.jpg.

    ``splits``: split -> rows (image id, 1-based class id, species 1 cat / 2 dog).
    """
    base = root / "oxford-iiit-pet"
    (base / "annotations").mkdir(parents=True)
    splits = splits or PETS_SPLITS
    for split, rows in splits.items():
        (base / "annotations" / f"{split}.txt").write_text("".join(f"{i} {c} {s} 1\n" for i, c, s in rows))
        for k, (i, _, _) in enumerate(rows):
            save_image(base / "images" / f"{i}.jpg", (33, 21 + k), seed=k)


def build_flowers(root: Path) -> dict[str, str]:
    """flowers-102/: jpg/image_NNNNN.jpg, imagelabels.mat, setid.mat (needs scipy)."""
    from scipy.io import savemat

    base = root / "flowers-102"
    for i in range(1, 8):
        save_image(base / "jpg" / f"image_{i:05d}.jpg", (50, 40), seed=i)
    savemat(base / "imagelabels.mat", {"labels": np.array([[1, 2, 3, 1, 2, 3, 1]])})
    savemat(base / "setid.mat", {"trnid": np.array([[1, 2]]), "valid": np.array([[3, 7]]), "tstid": np.array([[4, 5, 6]])})
    return {"imagelabels.mat": md5(base / "imagelabels.mat"), "setid.mat": md5(base / "setid.mat")}


def trust_flowers(monkeypatch, sums: dict[str, str]) -> None:
    from torchvision.datasets import Flowers102

    files = dict(Flowers102._file_dict)
    files["label"] = ("imagelabels.mat", sums["imagelabels.mat"])
    files["setid"] = ("setid.mat", sums["setid.mat"])
    monkeypatch.setattr(Flowers102, "_file_dict", files)


# ------------------------------------------------------------------------ ImageNet family
def build_synset_mapping(path: Path) -> Path:
    """A LOC_synset_mapping.txt-style class list (deliberately not in wnid order)."""
    lines = [f"{w} {words}" for w, words in zip(WNIDS, WORDS)]
    path.write_text("\n".join(reversed(lines)) + "\n")
    return path


def build_imagenet_val_tree(root: Path, per_class: int = 5) -> Path:
    """val/<wnid>/ILSVRC2012_val_NNNNNNNN.JPEG, ``per_class`` images per synset."""
    tree = root / "val"
    k = 0
    for wnid in WNIDS:
        for _ in range(per_class):
            k += 1
            save_image(tree / wnid / f"ILSVRC2012_val_{k:08d}.JPEG", (24 + k % 5, 18), seed=k, fmt="JPEG")
    return tree


def build_devkit(root: Path, wnids=WNIDS, words=WORDS, order=(3, 0, 5, 1, 4, 2), images: int = 12) -> Path:
    """ILSVRC2012_devkit_t12.tar.gz with data/meta.mat (synsets struct) and the val ground truth.

    ``order[k]``: the 0-based ILSVRC2012_ID of ``wnids[k]``; image ``i`` of the ground truth
    is of ``wnids[i % len(wnids)]``.
    """
    from scipy.io import savemat

    stage = root / "devkit_build" / "ILSVRC2012_devkit_t12" / "data"
    stage.mkdir(parents=True)
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children"]
    synsets = np.zeros((len(wnids) + 1,), dtype=[(f, "O") for f in fields])
    for row, (ilsvrc, wnid, name) in enumerate(zip(order, wnids, words)):
        synsets[row] = (ilsvrc + 1, wnid, name, "a gloss", 0)
    synsets[len(wnids)] = (len(wnids) + 1, "n09999999", "entity", "a parent synset", 2)  # not a leaf
    savemat(stage / "meta.mat", {"synsets": synsets})
    truth = [order[i % len(wnids)] + 1 for i in range(images)]
    (stage / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(f"{t}\n" for t in truth))
    archive = root / "ILSVRC2012_devkit_t12.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stage.parent, arcname="ILSVRC2012_devkit_t12")
    return archive


def build_val_tar(root: Path, count: int = 12, wrap: int | None = None) -> Path:
    """ILSVRC2012_img_val.tar: flat ILSVRC2012_val_NNNNNNNN.JPEG files (heights 16 + k, modulo ``wrap``)."""
    flat = root / "val_build"
    for k in range(1, count + 1):
        save_image(flat / f"ILSVRC2012_val_{k:08d}.JPEG", (20, 16 + (k % wrap if wrap else k)), seed=100 + k,
                   fmt="JPEG")
    archive = root / "ILSVRC2012_img_val.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(flat.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def build_train_tar(root: Path, wnids=WNIDS, per_class: int = 1) -> Path:
    """ILSVRC2012_img_train.tar: one ``<wnid>.tar`` of ``<wnid>_N.JPEG`` files per synset."""
    stage = root / "train_build"
    archive = root / "ILSVRC2012_img_train.tar"
    with tarfile.open(archive, "w") as outer:
        for k, wnid in enumerate(wnids):
            inner = stage / f"{wnid}.tar"
            files = [save_image(stage / wnid / f"{wnid}_{j}.JPEG", (22, 18 + j), seed=5000 + k, fmt="JPEG")
                     for j in range(per_class)]
            with tarfile.open(inner, "w") as tar:
                for path in files:
                    tar.add(path, arcname=path.name)
            outer.add(inner, arcname=inner.name)
    return archive


def trust_imagenet(monkeypatch, devkit: Path, val_tar: Path | None = None) -> None:
    import torchvision.datasets.imagenet as tvi

    meta = dict(tvi.ARCHIVE_META)
    meta["devkit"] = (devkit.name, md5(devkit))
    if val_tar is not None:
        meta["val"] = (val_tar.name, md5(val_tar))
    monkeypatch.setattr(tvi, "ARCHIVE_META", meta)


def build_imagenet_a(root: Path, wnids=("n00000022", "n00000055", "n00000066")) -> Path:
    base = root / "imagenet-a"
    for i, wnid in enumerate(wnids):
        for j in range(2):
            save_image(base / wnid / f"{i}_{j}.jpg", (35, 30), seed=i * 10 + j)
    (base / "README.txt").write_text("ImageNet-A\n")
    return base


def build_imagenet_v2(root: Path) -> Path:
    base = root / "imagenetv2-matched-frequency-format-val"
    for cls in range(len(WNIDS)):
        for j in range(2):
            save_image(base / str(cls) / f"{hashlib.sha1(f'{cls}-{j}'.encode()).hexdigest()}.jpeg", (28, 28), seed=cls + j)
    return base


def build_objectnet(root: Path) -> Path:
    """objectnet-1.0/images/<folder>/*.png (1-px red frame) and mappings/."""
    base = root / "objectnet-1.0"
    # ObjectNet's own ImageNet order (line k) differs from the model's sorted-wnid ids.
    line_names = ["banana", "analog clock", "tench, Tinca tinca", "digital clock", "goldfish", "crane"]
    model_id = {"tench, Tinca tinca": 0, "goldfish": 1, "analog clock": 2, "digital clock": 3, "banana": 4, "crane": 5}
    mappings = base / "mappings"
    mappings.mkdir(parents=True)
    (mappings / "imagenet_to_label_2012_v2").write_text("\n".join(line_names) + "\n")
    (mappings / "pytorch_to_imagenet_2012_id.json").write_text(
        json.dumps({str(model_id[name]): line for line, name in enumerate(line_names)}))
    (mappings / "folder_to_objectnet_label.json").write_text(
        json.dumps({"alarm_clock": "Alarm clock", "banana": "Banana", "air_freshener": "Air freshener"}))
    (mappings / "objectnet_to_imagenet_1k.json").write_text(
        json.dumps({"Banana": "banana", "Alarm clock": "analog clock; digital clock"}))
    for folder in ("alarm_clock", "banana", "air_freshener"):
        for j in range(3):
            path = save_image(base / "images" / folder / f"{folder}_{j}.png", (40, 30), seed=j)
            image = np.array(Image.open(path))
            image[0, :], image[-1, :], image[:, 0], image[:, -1] = (255, 0, 0), (255, 0, 0), (255, 0, 0), (255, 0, 0)
            Image.fromarray(image).save(path)
    return base


# ------------------------------------------------------------------------------ Winoground
TAGS = ["Object", "Relation", "Both", "Object"]
CAPTIONS = [("there is a mug in some grass", "there is some grass in a mug"),
            ("a person sits and a dog stands", "a person stands and a dog sits"),
            ("it's a truck fire", "it's a fire truck"),
            ("a photo of a cat", "a cat of a photo")]


def png_bytes(seed: int, size=(30, 22)) -> bytes:
    array = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def winoground_fields(i: int) -> dict:
    return {"id": i, "caption_0": CAPTIONS[i][0], "caption_1": CAPTIONS[i][1], "tag": "Noun", "secondary_tag": "",
            "num_main_preds": 1, "collapsed_tag": TAGS[i]}


def fake_parquet_copy(root):
    """The current hub layout: data/test-00000-of-00001.parquet with Image structs."""
    (root / "data").mkdir(parents=True)
    rows = [{**winoground_fields(i), "image_0": {"bytes": png_bytes(2 * i), "path": None},
             "image_1": {"bytes": png_bytes(2 * i + 1), "path": None}} for i in range(4)]
    pd.DataFrame(rows).to_parquet(root / "data" / "test-00000-of-00001.parquet")
    return root


def fake_jsonl_copy(root):
    """The original layout: data/examples.jsonl + data/images.zip of <name>.png files."""
    (root / "data").mkdir(parents=True)
    with zipfile.ZipFile(root / "data" / "images.zip", "w") as archive:
        for i in range(4):
            for k in range(2):
                archive.writestr(f"images/ex_{i}_img_{k}.png", png_bytes(2 * i + k))
    lines = [json.dumps({**winoground_fields(i), "image_0": f"ex_{i}_img_0", "image_1": f"ex_{i}_img_1"}) for i in range(4)]
    (root / "data" / "examples.jsonl").write_text("\n".join(lines) + "\n")
    return root

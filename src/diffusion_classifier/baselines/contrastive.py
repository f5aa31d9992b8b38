"""A tiny contrastive image-text model (the CLIP analogue of the miniature Table 3).

Trained with CLIP's symmetric InfoNCE objective on the same captioned corpus the tiny
text-conditional diffusion model learns from (``captions.csv`` of ``digit_captions``),
then scored on the same caption-pair test examples: s(C, I) is the cosine similarity
of caption and image embeddings, and the text / image / group scores come from
:mod:`diffusion_classifier.compositional.scores`, exactly as for the diffusion
classifier. The text encoder sees word positions (learned position embeddings and a
transformer layer), so any blindness to word order is the objective's, not the
architecture's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..compositional.scores import example_scores
from ..config import Positive, PositiveFloat
from ..data.transforms import ImageTransform
from ..models.training import StepTraining

__all__ = ["ContrastiveConfig", "ContrastiveModel", "WordVocabulary", "train_contrastive", "pair_similarities"]

PAD, UNK = 0, 1


@dataclass(frozen=True)
class ContrastiveConfig(StepTraining):
    """Training settings (``compositional_baselines.contrastive.train`` in the config):
    :class:`~diffusion_classifier.models.training.StepTraining` plus the model's size.

    Attributes:
        width: Embedding width of both towers.
        layers: Transformer layers of the text tower.
        heads: Attention heads of the text tower.
        image_size: Side the images are resized to.
    """

    steps: Positive = 600
    learning_rate: PositiveFloat = 0.002
    width: Positive = 64
    layers: Positive = 1
    heads: Positive = 4
    image_size: Positive = 16


class WordVocabulary:
    """Lower-cased whitespace words of the training captions; unseen words map to ``<unk>``."""

    def __init__(self, captions: list[str]) -> None:
        words = sorted({w for c in captions for w in self.split(c)})
        self.index = {w: i + 2 for i, w in enumerate(words)}
        self.max_length = max(len(self.split(c)) for c in captions) + 4

    @staticmethod
    def split(caption: str) -> list[str]:
        return caption.lower().replace(".", " ").split()

    def __len__(self) -> int:
        return len(self.index) + 2

    def encode(self, captions: list[str]) -> torch.Tensor:
        ids = torch.full((len(captions), self.max_length), PAD, dtype=torch.long)
        for row, caption in enumerate(captions):
            tokens = [self.index.get(w, UNK) for w in self.split(caption)][: self.max_length]
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        return ids


class ContrastiveModel(nn.Module):
    """Image CNN and word-transformer text encoder into one normalised embedding space."""

    def __init__(self, vocab_size: int, max_length: int, config: ContrastiveConfig) -> None:
        super().__init__()
        w = config.width
        self.image = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * (config.image_size // 4) ** 2, w),
        )
        self.words = nn.Embedding(vocab_size, w, padding_idx=PAD)
        self.positions = nn.Parameter(torch.randn(max_length, w) * 0.02)
        layer = nn.TransformerEncoderLayer(w, config.heads, 2 * w, dropout=0.0, batch_first=True)
        self.text = nn.TransformerEncoder(layer, config.layers)
        self.text_out = nn.Linear(w, w)
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.image(pixels), dim=-1)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids == PAD
        hidden = self.text(self.words(ids) + self.positions[: ids.shape[1]], src_key_padding_mask=mask)
        pooled = (hidden * (~mask).unsqueeze(-1)).sum(1) / (~mask).sum(1, keepdim=True).clamp(min=1)
        return nn.functional.normalize(self.text_out(pooled), dim=-1)


def _pixels(dataset, image_ids: list[str], size: int) -> torch.Tensor:
    transform = ImageTransform(size=size, channels=1, resample="bilinear")
    rows = dataset.manifest.set_index("image_id", drop=False)
    return torch.stack([transform(dataset.load_image(rows.loc[i])) for i in image_ids])


def train_contrastive(dataset, captions: pd.DataFrame, config: ContrastiveConfig):
    """Train on ``captions`` (image_id, caption) of ``dataset``; returns (model, vocabulary, losses)."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    vocabulary = WordVocabulary(captions["caption"].tolist())
    image_ids = sorted(set(captions["image_id"]))
    pixels = _pixels(dataset, image_ids, config.image_size)
    position = {i: k for k, i in enumerate(image_ids)}
    image_of = torch.tensor([position[i] for i in captions["image_id"]])
    ids = vocabulary.encode(captions["caption"].tolist())
    model = ContrastiveModel(len(vocabulary), vocabulary.max_length, config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    losses = []
    for _ in range(config.steps):
        # One caption per image in a batch: two captions of one image are not each other's negatives.
        order = torch.randperm(len(ids), generator=generator)
        _, first = np.unique(image_of[order].numpy(), return_index=True)
        batch = order[torch.from_numpy(np.sort(first))][: config.batch_size]
        batch = batch[torch.randperm(len(batch), generator=generator)]
        images = model.encode_images(pixels[image_of[batch]])
        texts = model.encode_text(ids[batch])
        logits = model.logit_scale.exp().clamp(max=100) * images @ texts.T
        target = torch.arange(len(batch))
        loss = (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return model.eval(), vocabulary, losses


@torch.no_grad()
def pair_similarities(model: ContrastiveModel, vocabulary: WordVocabulary, dataset, examples: pd.DataFrame,
                      image_size: int) -> pd.DataFrame:
    """s(C_k, I) for every example image and both of its example's captions (image_id, caption, score)."""
    rows = []
    for example in examples.itertuples(index=False):
        images = model.encode_images(_pixels(dataset, [example.image_0, example.image_1], image_size))
        texts = model.encode_text(vocabulary.encode([example.caption_0, example.caption_1]))
        similarity = (images @ texts.T).numpy()
        for slot, image_id in enumerate((example.image_0, example.image_1)):
            rows += [{"image_id": str(image_id), "caption": caption, "score": float(similarity[slot, caption])}
                     for caption in (0, 1)]
    return pd.DataFrame(rows)


def outcomes(model, vocabulary, dataset, examples: pd.DataFrame, image_size: int) -> pd.DataFrame:
    """Text / image / group outcome of every example, as :func:`example_scores` gives the diffusion classifier."""
    return example_scores(examples, pair_similarities(model, vocabulary, dataset, examples, image_size))

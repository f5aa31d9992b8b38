"""The tiny contrastive (CLIP-analogue) baseline of the miniature Table 3."""

import json

import pandas as pd
import torch

from diffusion_classifier.baselines.contrastive import (ContrastiveConfig, WordVocabulary, outcomes,
                                                        pair_similarities, train_contrastive)
from diffusion_classifier.data import load_dataset, prepare_dataset
from diffusion_classifier.data.pairs import load_captions, load_examples


def test_trains_on_the_corpus_and_scores_every_example(tmp_path):
    root = prepare_dataset("digit_captions", tmp_path / "dc", image_size=16, test_fraction=0.2, seed=0,
                           pairs_per_order=1, unseen_combinations=5, test_examples_per_combination=1,
                           max_singles=40)
    dataset = load_dataset(root)
    captions, examples = load_captions(dataset), load_examples(dataset, "test")
    model, vocabulary, losses = train_contrastive(dataset, captions, ContrastiveConfig(steps=30, batch_size=32))
    assert losses[-1] < losses[0]  # InfoNCE falls on the training captions
    sims = pair_similarities(model, vocabulary, dataset, examples, 16)
    assert len(sims) == 4 * len(examples) and sims["score"].between(-1, 1).all()
    frame = outcomes(model, vocabulary, dataset, examples, 16)
    assert len(frame) == len(examples) and (frame["group"] <= frame["text"]).all()


def test_the_text_encoder_can_tell_word_order():
    # Same words, swapped order: different token rows, and different embeddings from an untrained model.
    vocabulary = WordVocabulary(["a 3 left of a 7", "a 7 left of a 3"])
    ids = vocabulary.encode(["a 3 left of a 7", "a 7 left of a 3"])
    assert not torch.equal(ids[0], ids[1])
    from diffusion_classifier.baselines.contrastive import ContrastiveModel

    torch.manual_seed(0)
    model = ContrastiveModel(len(vocabulary), vocabulary.max_length, ContrastiveConfig()).eval()
    with torch.no_grad():
        a, b = model.encode_text(ids)
    assert not torch.allclose(a, b, atol=1e-4)


def test_the_stage_writes_a_row_of_the_compositional_table(tmp_path):
    from diffusion_classifier.cli import main
    from diffusion_classifier.reporting.run_tables import compositional_frame

    root = prepare_dataset("digit_captions", tmp_path / "dc", image_size=16, test_fraction=0.2, seed=0,
                           pairs_per_order=1, unseen_combinations=5, test_examples_per_combination=1,
                           max_singles=40)
    summary = tmp_path / "contrastive.summary.json"
    assert main(["evaluate-contrastive", "--dataset-dir", str(root), "--train", '{"steps": 5, "batch_size": 16}',
                 "--group-by", "collapsed_tag", "tag", "--names",
                 '{"dataset": "digit_captions", "model": "contrastive", "strategy": "cosine"}',
                 "--output-examples", str(tmp_path / "ex.parquet"), "--output-summary", str(summary)]) == 0
    frame = compositional_frame([json.loads(summary.read_text())])
    assert frame["model"].tolist()[0] == "contrastive" and "all" in frame["subset"].tolist()
    assert len(pd.read_parquet(tmp_path / "ex.parquet")) == frame.set_index("subset").loc["all", "examples"]

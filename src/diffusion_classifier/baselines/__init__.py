"""Baselines: discriminative classifiers the Diffusion Classifier is compared with."""

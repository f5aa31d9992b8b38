"""Diffusion Classifier: classification with conditional diffusion models.

An open reproduction of Li et al., "Your Diffusion Model is Secretly a Zero-Shot
Classifier" (ICCV 2023). The engine (:mod:`diffusion_classifier.engine`) scores an
image against every candidate condition with a fixed, shared set of (timestep, noise)
pairs; adapters (:mod:`diffusion_classifier.models`) wrap concrete diffusion models
behind the engine's one noise-predictor interface
(:mod:`diffusion_classifier.engine.predictor`).
"""

__version__ = "0.1.0"

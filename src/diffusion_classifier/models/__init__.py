"""Noise predictors: adapters for concrete models, and their registry.

The adapters implement the engine's interface (:class:`~diffusion_classifier.engine.predictor.NoisePredictor`,
which the engine owns so that it imports nothing of the models).

The names below load on first use (``lazy_loader``, SPEC 1): the adapter registry
(:mod:`.registry`) is torch-free, so the workflow and the torch-free jobs read adapter
names without importing torch; a predictor class is imported when it is loaded.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "class_conditional": ["ClassConditionalPredictor"],
        "registry": ["ConditionSpec", "adapter_uses_prompts", "build_conditioning", "list_adapters",
                     "load_predictor", "register_adapter"],
        "text_conditional": ["TextConditionalPredictor"],
    },
)

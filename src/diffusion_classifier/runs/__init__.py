"""One scoring run, from its inputs to a finished error-store shard.

The pipeline's ``score-shard`` / ``score-pairs`` stages and the user's
:mod:`diffusion_classifier.classify` both score images through this package, so
there is one loop, one shard writer and one provenance record:

- :mod:`.inputs`: what a run scores: one shard of a prepared dataset's split
  (:func:`shard_rows`) or a user's images (:class:`UserImages`, read through the
  pipeline's checked image reader);
- :mod:`.classifier`: the candidate conditions of a run and its conditioning table
  (a dataset's classes, or a user's class names, ids or prompts);
- :mod:`.store`: the shard's provenance (its settings and run key) and its writer,
  which checkpoints as the ``scoring:`` section asks and resumes an interrupted run;
- :mod:`.loop`: the loop itself: encode, draw noise, classify, write; preemption
  signals checkpoint the images in flight (:mod:`~diffusion_classifier.artifacts.preemption`);
- :mod:`.shard`: one shard of a prepared dataset, end to end (``score-shard``).

The names below load on first use (``lazy_loader``, SPEC 1), and every module imports
torch and the engine inside the functions that need them, so the torch-free jobs that
take :func:`shard_rows` (``aggregate-scores``) stay torch-free.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["classifier", "inputs", "loop", "shard", "store", "user"],
    submod_attrs={
        "inputs": ["UNKNOWN_LABEL", "UserImages", "list_images", "shard_rows"],
        "store": ["shard_provenance", "shard_writer"],
    },
)

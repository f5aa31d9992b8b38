"""Stand-in scored images for the error store's tests."""

import numpy as np

from diffusion_classifier.engine import ImageScores


def fake_scores(num_classes=4, num_points=5, seed=0, prediction=1):
    rng = np.random.default_rng(seed)
    n = num_classes * num_points
    return ImageScores(
        condition=np.repeat(np.arange(num_classes), num_points).astype(np.int32),
        grid_index=np.tile(np.arange(num_points), num_classes).astype(np.int32),
        timestep=np.tile(np.arange(num_points) * 200 + 100, num_classes).astype(np.int32),
        stage=np.zeros(n, np.int16),
        errors={"l2": rng.random(n, dtype=np.float32)},
        kept=[[prediction]],
        prediction=prediction,
        passes=n,
        seconds=0.5,
    )


def provenance(key="abc"):
    return {"run_key": key, "model_id": "m"}

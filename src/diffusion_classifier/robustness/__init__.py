"""Effective robustness of classifiers to distribution shift (paper Sec. 6.3.1, Fig. 6).

Discriminative models define a linear trend of logit(OOD accuracy) on logit(ID
accuracy) (Taori et al., 2020); a model's effective robustness is how far its OOD
accuracy lies above that trend, in accuracy points. ImageNet-A uses a piecewise trend
split at the ID accuracy of the ResNet-50 it was built against. Error bars are 99.5%
Clopper-Pearson intervals.

Modules: :mod:`.intervals` (Clopper-Pearson), :mod:`.logit` (logit axis and the
policy for accuracies of 0 or 1), :mod:`.fit` (OLS lines), :mod:`.effective`
(effective robustness of one model), :mod:`.table` (per-model tables in and out).
"""

from .effective import effective_robustness
from .fit import MIN_POINTS, LinearFit, PiecewiseFit, TrendFit, fit_linear, fit_piecewise
from .intervals import DEFAULT_ALPHA, accuracy_counts, clopper_pearson
from .logit import POLICIES, BoundaryPolicy, inverse_logit, logit
from .table import FAMILIES, fit_discriminative, fit_parameters, robustness_table, validate_table

__all__ = [
    "DEFAULT_ALPHA",
    "FAMILIES",
    "MIN_POINTS",
    "POLICIES",
    "BoundaryPolicy",
    "LinearFit",
    "PiecewiseFit",
    "TrendFit",
    "accuracy_counts",
    "clopper_pearson",
    "effective_robustness",
    "fit_discriminative",
    "fit_linear",
    "fit_parameters",
    "fit_piecewise",
    "inverse_logit",
    "logit",
    "robustness_table",
    "validate_table",
]

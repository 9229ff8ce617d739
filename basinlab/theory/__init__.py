"""Theory: the randomized-smoothing bounds of PAPER.md section 4 and certificates built on them.

    from basinlab import theory
    theory.strong_bound(p_a=0.9, r=0.002, sigma=0.01)

Modules: bounds (Theorems 4.2-4.5, numpy, float64), embeddings (token-embedding distances and
certified token substitutions, Thm 4.5), smoothing (Monte Carlo smoothed scores of a JAX pytree),
certify (smoothed scores through the landscape engine and certified lower bounds for a fine-tuned
model; imported on use: ``from basinlab.theory import certify``).
"""

from basinlab.theory import bounds as bounds
from basinlab.theory import embeddings as embeddings
from basinlab.theory import smoothing as smoothing
from basinlab.theory.bounds import INPUT_BOUND_ASSUMPTION as INPUT_BOUND_ASSUMPTION
from basinlab.theory.bounds import certified_radius as certified_radius
from basinlab.theory.bounds import concentration_lower_bound as concentration_lower_bound
from basinlab.theory.bounds import input_bound as input_bound
from basinlab.theory.bounds import lipschitz_deviation as lipschitz_deviation
from basinlab.theory.bounds import local_slope as local_slope
from basinlab.theory.bounds import log_strong_bound as log_strong_bound
from basinlab.theory.bounds import strong_bound as strong_bound
from basinlab.theory.bounds import weak_bound as weak_bound
from basinlab.theory.embeddings import EmbeddingDistances as EmbeddingDistances
from basinlab.theory.embeddings import TokenCertificate as TokenCertificate
from basinlab.theory.embeddings import embedding_distances as embedding_distances
from basinlab.theory.embeddings import token_substitutions_certified as token_substitutions_certified
from basinlab.theory.smoothing import SmoothedScore as SmoothedScore
from basinlab.theory.smoothing import smoothed_interval as smoothed_interval
from basinlab.theory.smoothing import smoothed_score_mc as smoothed_score_mc

__all__ = [*bounds.__all__, *embeddings.__all__, *smoothing.__all__]

"""Theory: the randomized-smoothing bounds of PAPER.md section 4 and certificates built on them.

    basinlab.strong_bound(p_a=0.9, r=0.002, sigma=0.01)
    basinlab.theory.embedding_distances(model)

bounds (Theorems 4.2-4.5, numpy, float64), embeddings (token-embedding distances and certified token
substitutions, Thm 4.5), smoothing (Monte Carlo smoothed scores of a JAX pytree), certify (smoothed
scores through the landscape engine, p_A's one-sided lower bound, and certified lower bounds for a fine-tuned
model at a given sigma or at a measured basin size).
"""

from basinlab.theory._bounds import (
    INPUT_BOUND_ASSUMPTION,
    certified_radius,
    concentration_lower_bound,
    input_bound,
    lipschitz_deviation,
    local_slope,
    log_strong_bound,
    strong_bound,
    weak_bound,
)
from basinlab.theory._certify import VACUOUS, Certificate, certificates, certify, smoothed_score
from basinlab.theory._embeddings import (
    EmbeddingDistances,
    TokenCertificate,
    embedding_distances,
    token_substitutions_certified,
)
from basinlab.theory._smoothing import SmoothedScore, smoothed_interval, smoothed_score_mc

__all__ = [
    "INPUT_BOUND_ASSUMPTION", "VACUOUS", "Certificate", "EmbeddingDistances", "SmoothedScore", "TokenCertificate",
    "certificates", "certified_radius", "certify", "concentration_lower_bound", "embedding_distances",
    "input_bound", "lipschitz_deviation", "local_slope", "log_strong_bound", "smoothed_interval",
    "smoothed_score", "smoothed_score_mc", "strong_bound", "token_substitutions_certified", "weak_bound",
]

"""Statistics helpers: exact binomial intervals and bootstrap bands.

Pure numpy/scipy (float64), no JAX: these run on small arrays of counts or
per-direction scores after the expensive model evaluations are done.

- :func:`clopper_pearson` -- exact two-sided interval for a binomial proportion,
  used for "fraction of directions that are strict basins" (PAPER.md section 2)
  and for Monte Carlo estimates of smoothed scores (section 4).
- :func:`clopper_pearson_lower` -- exact one-sided lower bound, for one-sided claims such as
  "with 99% confidence more than 90% of directions are strict basins";
  :func:`directions_needed` -- how many all-passing directions such a claim needs.
- :func:`mean_lower_bound` -- one-sided lower confidence bounds for the mean of i.i.d. draws: exact
  Clopper-Pearson for 0/1 draws, and for any draws in [0, 1] (an item-mean score per direction:
  p_A of the certificates) Hoeffding, empirical Bernstein (Maurer and Pontil 2009) or a betting
  confidence sequence (Waudby-Smith and Ramdas 2024); MEAN_BOUNDS names each method in words.
- :func:`mcnemar_exact` -- exact McNemar test on paired 0/1 items (the same items scored before
  and after fine-tuning): a two-sided binomial test on the discordant items.
- :func:`bootstrap_band` -- percentile bootstrap of a mean across directions,
  used to draw confidence bands around landscape curves.
- :func:`median_interval` -- distribution-free interval for a median from order statistics (the
  median basin width over a few directions).
- :func:`adjust_p` -- Holm, Bonferroni or Benjamini-Hochberg adjusted p-values across the tests of
  one table; :func:`sign_test` -- exact sign test over independent units (one per training seed).
- :func:`t_interval` -- Student t interval for a mean of independent values (one per seed).
- :func:`cluster_interval` -- interval for a mean of nested units (directions within seeds): a
  two-stage cluster bootstrap, or a t-interval over cluster means.
- :func:`detectable_drop` -- the fall in a 0/1 score that McNemar would have detected on n items,
  so that "kept" can say what it could have seen.
"""

from basinlab.stats._intervals import (
    CLUSTER_INTERVALS,
    MEAN_BOUNDS,
    bootstrap_band,
    clopper_pearson,
    clopper_pearson_lower,
    cluster_interval,
    directions_needed,
    mean_lower_bound,
    median_interval,
    t_interval,
)
from basinlab.stats._tests import ADJUSTMENTS, adjust_p, detectable_drop, mcnemar_exact, sign_test

__all__ = ["ADJUSTMENTS", "CLUSTER_INTERVALS", "MEAN_BOUNDS", "adjust_p", "bootstrap_band", "clopper_pearson",
           "clopper_pearson_lower", "cluster_interval", "detectable_drop", "directions_needed", "mcnemar_exact",
           "mean_lower_bound", "median_interval", "sign_test", "t_interval"]

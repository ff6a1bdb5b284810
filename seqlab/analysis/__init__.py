"""Statistics on recorded training curves: no retraining, no TensorFlow.

One module per concern, each reading the frames the store hands out
(`frames` checks them):

- `curves`: rules on one run's curves (best epoch, overfitting onset,
  early stopping replayed);
- `labels`: labels that tell runs apart, computed once per load;
- `tables`: tidy tables for charts (curves, gaps, one summary row per run,
  early stopping per run);
- `stats`: seed groups (bands, mean ± std, Welch and bootstrap intervals
  from `scipy.stats`);
- `budgets`: the Pareto front and sizing a model to a parameter budget;
- `sweeps`: runs that differ in one setting;
- `advice`: what the completed runs say and what to try next;
- `words`: every sentence these modules show a user.

This package imports none of its modules here, so importing one module
loads only what it needs.
"""

"""Choosing sub-networks to deploy: budgets, the exact Pareto front of additive models,
the refined search for the others, and the search report."""

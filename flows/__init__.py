"""Prefect flows and the `ufo` command line."""

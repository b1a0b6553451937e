"""Checks made before work: Great Expectations validation of input files, run parameters."""

"""The errors a user's input can cause, in one place, so that any layer can raise them
without importing the layer that reports them (flows/cli.py maps each to an exit code).

Every message names the file, the entry and the field where there is one."""

from __future__ import annotations


class ParameterError(ValueError):
    """A run parameter that cannot work (missing file, unknown predictor, bad holdout)."""


class InputFileError(ValueError):
    """A competition file that cannot be read as the competition format."""


class HoldoutError(ValueError):
    """A holdout spec that is not `last:N`, `kfold:K` or `none`, or that does not fit the data."""


class OutputError(Exception):
    """An output that cannot be written (read-only or full disk, no such folder)."""

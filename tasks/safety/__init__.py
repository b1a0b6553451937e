"""What ufo may overwrite and where deployment runs may write: the ledger, confinement, room checks."""

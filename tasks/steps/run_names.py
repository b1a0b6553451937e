"""Flow-run names that say what ran: a prefix (predictor, or the search's objective and
budget) and a short hash of the inputs' contents."""

from __future__ import annotations

import hashlib


def short_digest(*file_digests: str) -> str:
    """First 8 hex digits of sha256 over the inputs' sha256 digests, in order (validation
    has computed them already: the files are not read again)."""
    return hashlib.sha256("".join(file_digests).encode()).hexdigest()[:8]

"""The largest cost values ufo's exact search handles, checked when a latency table or a
measurements file is read (tasks/latency/table.py), long before any fit.

The exact search (tasks/search/front.py) sums cost terms as integers: each term is rounded
once to a multiple of a resolution, 1 when every term is a whole number. Integers stay
exact in float64 (and in the search's int64 sums, reported as floats) below 2**53. A
sub-network's cost is its fixed part plus at most MAX_DEPTH = 12 layer terms, so every
term, the fixed part included, may be at most (2**53 - 1) // 13: then even a table of
whole numbers sums exactly for every sub-network, and the search never refuses a table
that was read. That is 692,861,481,133,845 ms, about 22,000 years, far above any real
latency; 3e16 ms or 1e300 ms are refused with the entry, the field and this limit named.

At the other end, a table of fractional terms is rounded to 1e-9 of its largest term
(front.RELATIVE_COST_DIGITS); for a largest term below about 1e-298 ms that resolution is
no longer a normal float (it underflows to 0 by 1e-315), so a table whose largest term is
positive must have it at least MIN_LARGEST_COST_TERM. Tiny terms beside a larger one are
fine: they round to the resolution, as any term does.

This module sits under tasks/safety, below both the search and the latency tables, so
that both import the one limit (tasks/search already imports tasks/latency)."""

from __future__ import annotations

from schemas.search_space import MAX_DEPTH

# Integers below this are exact in float64.
EXACT_INT_LIMIT = 2**53
# The largest fixed part or per-layer term a cost table may hold, in its own unit.
MAX_COST_TERM = (EXACT_INT_LIMIT - 1) // (MAX_DEPTH + 1)
# The smallest largest-term of a table with any positive term: its resolution, 1e-9 of it,
# is then a normal float (1e-307 > 2.2e-308), with eight orders of magnitude to spare.
MIN_LARGEST_COST_TERM = 1e-290

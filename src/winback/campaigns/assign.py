"""Deterministic assignment: holdout membership and message variants from a hash, never from a random draw.

The holdout depends only on (programme, customer), so it survives restarts, new versions of the programme and
re-entries; raising the share only adds customers to the holdout, lowering it only removes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_SCALE = float(1 << 64)


def unit_hash(*parts: str) -> float:
    """A uniform number in [0, 1) from the parts (BLAKE2b, 64 bits)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def in_holdout(programme_id: str, customer_id: str, share: float) -> bool:
    return share > 0 and unit_hash("holdout", programme_id, customer_id) < share


def pick_variant(programme_id: str, step: str, customer_id: str, weights: Sequence[tuple[str, float]]) -> str:
    """The variant for this customer at this step, with probability proportional to its weight."""
    total = sum(w for _, w in weights)
    point = unit_hash("variant", programme_id, step, customer_id) * total
    acc = 0.0
    for name, weight in weights:
        acc += weight
        if point < acc:
            return name
    return weights[-1][0]

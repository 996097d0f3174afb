"""Item-to-item recommendations: customers who bought X also bought Y, falling back to category popularity.

Pure functions over plain rows; the model is fitted once per batch (or cached by the caller) and then answers for
each customer without further I/O.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

MAX_ITEMS_PER_CUSTOMER = 50  # bounds the pair count of a heavy buyer (pairs grow with the square)


@dataclass(frozen=True)
class CoPurchase:
    """Co-purchase counts between products and each category's products by number of buyers."""

    pairs: dict[str, Counter[str]] = field(default_factory=dict)
    popular: dict[str, list[str]] = field(default_factory=dict)  # category → skus, most buyers first
    category: dict[str, str] = field(default_factory=dict)  # sku → category


def fit_co_purchase(purchases: Iterable[tuple[str, str]], categories: Mapping[str, str | None]) -> CoPurchase:
    """Count, over customers, how often two products were both bought; `purchases` are (customer_id, sku)."""
    baskets: dict[str, set[str]] = defaultdict(set)
    for customer_id, sku in purchases:
        basket = baskets[customer_id]
        if len(basket) < MAX_ITEMS_PER_CUSTOMER:
            basket.add(sku)
    pairs: dict[str, Counter[str]] = defaultdict(Counter)
    buyers: Counter[str] = Counter()
    for basket in baskets.values():
        buyers.update(basket)
        for a, b in combinations(sorted(basket), 2):
            pairs[a][b] += 1
            pairs[b][a] += 1
    popular: dict[str, list[str]] = defaultdict(list)
    for sku, _ in sorted(buyers.items(), key=lambda kv: (-kv[1], kv[0])):
        cat = categories.get(sku)
        if cat is not None:
            popular[cat].append(sku)
    cats = {sku: cat for sku, cat in categories.items() if cat is not None}
    return CoPurchase(pairs=dict(pairs), popular=dict(popular), category=cats)


def recommend(model: CoPurchase, bought: Sequence[str], *, k: int = 3) -> list[str]:
    """Up to `k` products the customer has not bought: co-purchased with what they bought (`bought`, most recent
    first), then the most popular in their categories; ties by sku for a stable answer."""
    owned = set(bought)
    scores: Counter[str] = Counter()
    for sku in owned:
        for other, n in model.pairs.get(sku, {}).items():
            if other not in owned:
                scores[other] += n
    picks = [sku for sku, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:k]
    if len(picks) < k:
        seen_categories: list[str] = []
        for sku in bought:
            cat = model.category.get(sku)
            if cat is not None and cat not in seen_categories:
                seen_categories.append(cat)
        for cat in seen_categories:
            for sku in model.popular.get(cat, []):
                if len(picks) >= k:
                    break
                if sku not in owned and sku not in picks:
                    picks.append(sku)
    return picks

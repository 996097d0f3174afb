"""Co-purchase recommendations with a category-popularity fallback."""

from __future__ import annotations

from winback.messaging.recommend import fit_co_purchase, recommend

CATEGORIES = {"tea": "drinks", "pot": "kitchen", "cup": "kitchen", "kettle": "kitchen", "coffee": "drinks",
              "cocoa": "drinks", "mat": "home"}
PURCHASES = [
    ("a", "tea"), ("a", "pot"), ("a", "cup"),
    ("b", "tea"), ("b", "pot"),
    ("c", "tea"), ("c", "kettle"),
    ("d", "coffee"), ("d", "cocoa"), ("e", "coffee"), ("f", "coffee"), ("f", "tea"),
    ("g", "mat"),
]


def test_counts_customers_who_bought_both() -> None:
    model = fit_co_purchase([*PURCHASES, ("a", "tea")], CATEGORIES)  # a repeat purchase counts once
    assert model.pairs["tea"] == {"pot": 2, "cup": 1, "kettle": 1, "coffee": 1}
    assert model.popular["drinks"] == ["tea", "coffee", "cocoa"]  # 4, 3, 1 buyers


def test_bought_together_first_then_ties_by_sku() -> None:
    model = fit_co_purchase(PURCHASES, CATEGORIES)
    assert recommend(model, ["tea"], k=3) == ["pot", "coffee", "cup"]


def test_excludes_what_they_bought() -> None:
    model = fit_co_purchase(PURCHASES, CATEGORIES)
    assert recommend(model, ["pot", "tea"], k=3) == ["cup", "coffee", "kettle"]


def test_falls_back_to_popular_in_their_categories() -> None:
    model = fit_co_purchase(PURCHASES, CATEGORIES)
    assert recommend(model, ["cocoa"], k=3) == ["coffee", "tea"]  # co-purchase gives coffee; drinks add tea
    assert recommend(model, ["mat"], k=3) == []  # nobody else bought from home


def test_no_history_no_recommendations() -> None:
    assert recommend(fit_co_purchase(PURCHASES, CATEGORIES), [], k=3) == []
    assert recommend(fit_co_purchase([], {}), ["tea"], k=3) == []

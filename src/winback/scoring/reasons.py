"""Why a customer left: churn reasons from exit surveys, cancel reasons, complaints, tickets and reviews.

Each text is classified on its own, by lexicon rules (`RuleClassifier`, no training data needed) or, once enough
labelled texts exist, by a calibrated linear model (`TextModel`); `aggregate` then combines a customer's items,
weighted by how reliable their source is (cancel reason = exit survey > complaint > ticket > review) and by how close
they are to the customer's last activity (half-life 180 days; the latest item when no last activity is given).
`ReasonClassifier` chooses between rules and model and labels a whole evidence DataFrame; `label_customers` is the
one-call form.

Labelling decisions:

- A ticket category is weak evidence added to its text: billing counts as `service` (a wrong charge or missing
  refund is an operational failure; a price complaint shows in the words, which outweigh the category). Account
  administration categories say nothing.
- A review with a low rating (1-2) and no text is weak `product_quality` evidence; a higher rating without text is
  no evidence.
- Praise or a negated cue ("not expensive", "价格还行") in a review or ticket is no evidence; in an exit survey or
  cancel reason it is weak `other`, since the customer was asked why and gave a reason we cannot read. So is any
  text that matches no keyword at all.
- A price comparison ("cheaper elsewhere", "别家更便宜") is `price`: such a customer would stay for a better price,
  and the price playbook (a coupon) is what wins them back; `competitor` is switching for anything else.
- A customer without any evidence gets no row (rather than an `unknown` label with confidence 0).
"""

from __future__ import annotations

import itertools
import math
import pickle
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from winback.domain.errors import UserError
from winback.scoring import reason_lexicon as lex

__all__ = ["LABELS", "SOURCES", "ReasonClassifier", "ReasonLabel", "RuleClassifier", "TextModel", "TextReason",
           "aggregate", "label_customers"]

LABELS = lex.LABELS
SOURCES = tuple(lex.SOURCE_WEIGHTS)


@dataclass(frozen=True)
class TextReason:
    """The reason one text gives: `probs` per label, `strength` in [0, 1] of the evidence, and where it came from."""

    label: str
    confidence: float
    probs: dict[str, float]
    strength: float
    terms: tuple[str, ...] = ()
    text: str = ""
    source: str = "survey"
    at: datetime | None = None
    method: str = "rules"


@dataclass(frozen=True)
class ReasonLabel:
    """One customer's churn reason, with the items that support it and a score per label."""

    customer_id: Hashable
    reason: str
    confidence: float
    evidence: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    method: str = "rules"


# ------------------------------------------------------------------------------------------------ the rules


class RuleClassifier:
    """Keyword rules in English and Chinese with negation, emphasis, ticket categories and ratings; no training."""

    def __init__(self, *, category_weight: float = 0.4, rating_weight: float = 0.3, unmatched_weight: float = 0.15):
        self.category_weight = category_weight
        self.rating_weight = rating_weight
        self.unmatched_weight = unmatched_weight

    def matches(self, text: object) -> tuple[dict[str, float], list[str], bool]:
        """Summed weight per label, the matched words, and whether the text said anything the lexicon knows."""
        found = lex.find(text)
        scores = dict.fromkeys(LABELS, 0.0)
        counted = [m for m in found if m.label != lex.NEUTRAL and not m.negated]
        for m in counted:
            scores[m.label] += m.weight * m.factor
        return scores, [m.text for m in counted], bool(found)

    def classify(self, text: object, *, source: str = "survey", category: object = None, rating: object = None,
                 at: datetime | None = None) -> TextReason:
        """The reason one text gives, with the category and rating of its row as weak extra evidence."""
        scores, terms, known = self.matches(text)
        content = lex.normalise(text).strip()
        label = _category_label(category)
        if label:
            scores[label] += self.category_weight
        stars = _number(rating)
        if not content and stars is not None and stars <= 2:
            scores["product_quality"] += self.rating_weight
        # An exit answer always holds a reason, even when it only thanks us or praises someone else.
        if content and not any(scores.values()) and (not known or source in ("survey", "cancel_reason")):
            scores["other"] = self.unmatched_weight
        return _reason(scores, terms=tuple(terms), text=text, source=source, at=at, method="rules")


def _category_label(category: object) -> str | None:
    value = category.lower() if isinstance(category, str) else ""
    return next((label for key, label in lex.CATEGORY_LABELS if key in value), None)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _reason(scores: Mapping[str, float], *, terms: tuple[str, ...], text: object, source: str, at: datetime | None,
            method: str, strength: float | None = None) -> TextReason:
    total = sum(scores.values())
    probs = {k: (v / total if total else 0.0) for k, v in scores.items()}
    strength = round((1 - math.exp(-total)) if strength is None else strength, 4)
    label = max(LABELS, key=lambda k: probs[k]) if total else "other"
    return TextReason(label=label, confidence=round(probs[label] * strength, 4), probs=probs, strength=strength,
                      terms=terms, text=text if isinstance(text, str) else "", source=source, at=at, method=method)


# ------------------------------------------------------------------------------------------------ the model


def _words(text: str) -> list[str]:
    """jieba words (English words pass through whole) and their bigrams."""
    tokens = [t for t in lex.tokenizer().lcut(lex.normalise(text)) if re.search(r"[a-z0-9\u4e00-\u9fff]", t)]
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def _rule_features(texts: Iterable[object]) -> np.ndarray:
    rules = RuleClassifier()
    rows = []
    for text in texts:
        scores, _, known = rules.matches(text)
        total = sum(scores.values())
        rows.append([v / total * (1 - math.exp(-total)) if total else 0.0 for v in scores.values()] + [float(known)])
    return np.asarray(rows)


class TextModel:
    """TF-IDF over jieba words and character 1-3-grams, plus the rule scores, into a calibrated linear SVM."""

    def __init__(self, *, random_state: int = 0, c: float = 0.5):
        self.random_state = random_state
        self.c = c

    def _pipeline(self) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import FeatureUnion, Pipeline
        from sklearn.preprocessing import FunctionTransformer
        from sklearn.svm import LinearSVC

        features = FeatureUnion([
            ("words", TfidfVectorizer(analyzer=_words, sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), preprocessor=lex.normalise,
                                      sublinear_tf=True)),
            ("rules", FunctionTransformer(_rule_features)),
        ])
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
        svm = LinearSVC(C=self.c, random_state=self.random_state)
        # Sigmoid calibration turns SVM margins into probabilities that can be weighed against other evidence.
        return Pipeline([("features", features), ("model", CalibratedClassifierCV(svm, method="sigmoid", cv=folds))])

    def fit(self, texts: Sequence[object], labels: Sequence[str]) -> TextModel:
        """Fit on labelled texts; every label needs at least three examples for the calibration folds."""
        unknown = sorted(set(labels) - set(LABELS))
        if unknown:
            raise UserError(f"unknown churn reason labels {unknown}; use one of {', '.join(LABELS)}")
        self.pipeline_ = self._pipeline().fit(list(texts), list(labels))
        return self

    def predict_proba(self, texts: Sequence[object]) -> np.ndarray:
        """Probabilities with one column per label in LABELS order (zero for labels never seen in training)."""
        proba = self.pipeline_.predict_proba(list(texts))
        out = np.zeros((len(proba), len(LABELS)))
        for j, label in enumerate(self.pipeline_.classes_):
            out[:, LABELS.index(label)] = proba[:, j]
        return out

    def predict(self, texts: Sequence[object]) -> list[str]:
        """The most probable label per text."""
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1)]


# ------------------------------------------------------------------------------------------------ customers


class ReasonClassifier:
    """Rules until fitted on at least `min_examples` labelled texts covering every label, then the model."""

    def __init__(self, *, min_examples: int = 200, min_per_label: int = 5, half_life_days: float = 180.0,
                 random_state: int = 0, model_strength: float = 0.8, rules: RuleClassifier | None = None):
        self.min_examples = min_examples
        self.min_per_label = max(min_per_label, 3)  # the calibration folds need three of each
        self.half_life_days = half_life_days
        self.random_state = random_state
        self.model_strength = model_strength
        self.rules = rules or RuleClassifier()
        self.model_: TextModel | None = None

    @property
    def method(self) -> str:
        """`model` once a model was fitted, else `rules`."""
        return "model" if self.model_ is not None else "rules"

    def fit(self, texts: Sequence[object], labels: Sequence[str]) -> ReasonClassifier:
        """Fit the model if the labelled set is big and varied enough; otherwise keep using the rules."""
        counts = pd.Series(list(labels), dtype=object).value_counts()
        enough = len(labels) >= self.min_examples and all(counts.get(k, 0) >= self.min_per_label for k in LABELS)
        self.model_ = TextModel(random_state=self.random_state).fit(texts, labels) if enough else None
        return self

    def classify_many(self, rows: Sequence[Mapping[str, Any]]) -> list[TextReason]:
        """Classify rows with keys text, source, category, rating, at; model predictions are batched."""
        out = [self.rules.classify(r.get("text"), source=r.get("source", "survey"), category=r.get("category"),
                                   rating=r.get("rating"), at=r.get("at")) for r in rows]
        if self.model_ is None:
            return out
        # Empty texts and praise in reviews stay with the rules: the model was trained on reasons and would invent
        # one. The model reads words only, so a text it scores no longer adds its ticket category.
        use = [i for i, r in enumerate(out) if r.strength > 0 and r.text.strip()]
        if use:
            proba = self.model_.predict_proba([out[i].text for i in use])
            for i, p in zip(use, proba, strict=True):
                r = out[i]
                out[i] = _reason(dict(zip(LABELS, p.tolist(), strict=True)), terms=r.terms, text=r.text,
                                 source=r.source, at=r.at, method="model", strength=self.model_strength)
        return out

    def classify(self, text: object, *, source: str = "survey", category: object = None, rating: object = None,
                 at: datetime | None = None) -> TextReason:
        """The reason one text gives."""
        return self.classify_many([{"text": text, "source": source, "category": category, "rating": rating,
                                    "at": at}])[0]

    def label(self, evidence: pd.DataFrame, *, last_activity: Mapping[Any, datetime] | None = None) -> pd.DataFrame:
        """One row per customer with evidence: customer_id, reason, confidence, method, evidence, score_<label>."""
        frame = _evidence_frame(evidence)
        records = [{**r, "at": None if pd.isna(r["at"]) else r["at"].to_pydatetime()} for r in frame.to_dict("records")]
        items = self.classify_many(records)
        by_customer: dict[Any, list[TextReason]] = {}
        for cid, item in zip(frame["customer_id"], items, strict=True):
            by_customer.setdefault(cid, []).append(item)
        last = last_activity or {}
        labels = [aggregate(cid, found, reference=last.get(cid), half_life_days=self.half_life_days)
                  for cid, found in by_customer.items()]
        return _output([lab for lab in labels if lab is not None])

    def to_bytes(self) -> bytes:
        """Pickled classifier; load only bytes you produced yourself (pickle runs code)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReasonClassifier:
        """The classifier saved by `to_bytes`."""
        loaded = pickle.loads(data)  # the caller vouches for the bytes, as the docstring of to_bytes asks
        if not isinstance(loaded, cls):
            raise UserError(f"the bytes hold a {type(loaded).__name__}, not a ReasonClassifier")
        return loaded


def _recency(at: datetime | None, reference: datetime | None, half_life_days: float) -> float:
    if at is None or reference is None or pd.isna(at) or pd.isna(reference):
        return 0.5  # an undated item counts as if it were one half-life away
    days = abs((pd.Timestamp(reference) - pd.Timestamp(at)).total_seconds()) / 86_400
    return 0.5 ** (days / half_life_days)


def aggregate(customer_id: Any, items: Sequence[TextReason], *, reference: datetime | None = None,
              half_life_days: float = 180.0, top: int = 3) -> ReasonLabel | None:
    """Combine one customer's items, weighted by source and by closeness to `reference` (default: the latest item)."""
    items = [i for i in items if i.strength > 0]
    if not items:
        return None
    dated = [i.at for i in items if i.at is not None and not pd.isna(i.at)]
    reference = reference if reference is not None else (max(dated) if dated else None)
    weights = [lex.SOURCE_WEIGHTS.get(i.source, 0.5) * _recency(i.at, reference, half_life_days) * i.strength
               for i in items]
    totals = {k: sum(w * i.probs.get(k, 0.0) for w, i in zip(weights, items, strict=True)) for k in LABELS}
    total = sum(totals.values()) or 1.0
    reason = max(LABELS, key=lambda k: totals[k])
    ranked = sorted(zip(weights, items, strict=True), key=lambda p: -p[0] * p[1].probs.get(reason, 0.0))
    evidence = [{"source": i.source, "at": None if i.at is None or pd.isna(i.at) else pd.Timestamp(i.at).isoformat(),
                 "text": i.text[:200], "terms": list(i.terms), "label": i.label, "weight": round(w, 4)}
                for w, i in ranked[:top] if w * i.probs.get(reason, 0.0) > 0]
    return ReasonLabel(customer_id=customer_id, reason=reason,
                       confidence=round(totals[reason] / total * (1 - math.exp(-2 * total)), 4), evidence=evidence,
                       scores={k: round(v / total, 4) for k, v in totals.items()},
                       method="model" if any(i.method == "model" for i in items) else "rules")


_REQUIRED = ("customer_id", "source", "text")


def _evidence_frame(evidence: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in evidence.columns]
    if missing:
        raise UserError(f"evidence lacks column(s) {', '.join(missing)}; expected "
                        "customer_id, source, text, category, rating, at")
    frame = pd.DataFrame({c: evidence[c] if c in evidence.columns else None
                          for c in (*_REQUIRED, "category", "rating", "at")})
    frame = frame.astype({"text": object, "category": object, "rating": object})
    frame["at"] = pd.to_datetime(frame["at"], utc=True, errors="coerce", format="ISO8601")
    # An unknown source is weighed below every known one but a review (see SOURCE_WEIGHTS).
    frame["source"] = frame["source"].astype(object).where(frame["source"].notna(), "unknown").astype(str).str.lower()
    return frame


def _output(labels: Sequence[ReasonLabel]) -> pd.DataFrame:
    rows = [{"customer_id": lab.customer_id, "reason": lab.reason, "confidence": lab.confidence,
             "method": lab.method, "evidence": lab.evidence, **{f"score_{k}": lab.scores[k] for k in LABELS}}
            for lab in labels]
    columns = ["customer_id", "reason", "confidence", "method", "evidence", *(f"score_{k}" for k in LABELS)]
    return pd.DataFrame(rows, columns=columns)


def label_customers(evidence: pd.DataFrame, *, classifier: ReasonClassifier | None = None,
                    last_activity: Mapping[Any, datetime] | None = None) -> pd.DataFrame:
    """Churn reason per customer from evidence rows (customer_id, source, text, category, rating, at)."""
    return (classifier or ReasonClassifier()).label(evidence, last_activity=last_activity)

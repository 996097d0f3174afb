"""Who is who: lifecycle stages, and the segment expression language (docs/segments.md).

`parse_segment("stage == 'at_risk' and clv > 200")` gives a checked `Segment`; `segment_condition`,
`segment_select`, `count_segment`, `matching_ids` and `matches` run it against the store.
"""

from winback.domain.errors import SegmentError
from winback.segments.compile import (
    count_segment,
    matches,
    matching_ids,
    segment_condition,
    segment_from,
    segment_select,
)
from winback.segments.expr import FIELDS, FUNCTIONS, FieldSpec, FunctionSpec, Segment, parse_segment

__all__ = [
    "FIELDS",
    "FUNCTIONS",
    "FieldSpec",
    "FunctionSpec",
    "Segment",
    "SegmentError",
    "count_segment",
    "matches",
    "matching_ids",
    "parse_segment",
    "segment_condition",
    "segment_from",
    "segment_select",
]

"""What values a scenario parameter allows, read from its pydantic field (for messages and comments)."""

from __future__ import annotations

from typing import Any, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo


def field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo | None:
    """The pydantic field reached by following ``loc`` (keys, list indices, dict keys) from ``model``."""
    current: Any = model
    info: FieldInfo | None = None
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            if info is not None and isinstance(part, (int, str)) and _model_in(info.annotation) is not None:
                current = _model_in(info.annotation)  # a list index or dict key inside list[Model] / dict[str, Model]
                fields = current.model_fields
                if part in fields:
                    info = fields[part]
                    current = _model_in(info.annotation) or info
                continue
            if info is not None and isinstance(part, (int, str)):
                continue  # index into a list of plain values
            return None
        info = fields[part]
        current = _model_in(info.annotation) or info
    return info


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def allowed_values(info: FieldInfo) -> str:
    """The allowed values of a field from its pydantic constraints, e.g. "0 <= x <= 1" (empty if unconstrained)."""
    text = _constraint_text(info)
    return f'{text} or "none"' if text and _allows_none(info.annotation) else text


def _allows_none(annotation: Any) -> bool:
    return annotation is type(None) or any(_allows_none(arg) for arg in get_args(annotation))


def _constraint_text(info: FieldInfo) -> str:
    """The allowed values of a field from its pydantic constraints, e.g. "0 <= x <= 1"."""
    low = high = None
    low_op = high_op = "<="
    for item in _all_metadata(info):
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, low_op = item.gt, "<"
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high, high_op = item.lt, "<"
    literals = _literal_values(info.annotation)
    if literals:
        return "one of " + ", ".join(repr(v) for v in literals)
    if low is not None and high is not None:
        return f"{_short(low)} {low_op} x {high_op} {_short(high)}"
    if low is not None:
        return f"x {'>=' if low_op == '<=' else '>'} {_short(low)}"
    if high is not None:
        return f"x {'<=' if high_op == '<=' else '<'} {_short(high)}"
    return ""


def _all_metadata(info: FieldInfo) -> list[Any]:
    """Constraints on the field itself and on the items of ``Annotated`` members of its type."""
    found = list(info.metadata)
    stack = [info.annotation]
    while stack:
        annotation = stack.pop()
        found.extend(getattr(annotation, "__metadata__", ()))
        stack.extend(get_args(annotation))
    flat: list[Any] = []
    for item in found:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])  # Field(ge=...) inside a nested Annotated
    return [item for item in flat if isinstance(item, annotated_types.BaseMetadata)]


def _literal_values(annotation: Any) -> list[Any]:
    """Values of a ``Literal[...]`` inside ``annotation`` (also inside ``list[Literal]``)."""
    if getattr(get_origin(annotation), "__name__", "") == "Literal" or str(get_origin(annotation)) == "typing.Literal":
        return list(get_args(annotation))
    for arg in get_args(annotation):
        found = _literal_values(arg)
        if found:
            return found
    return []


def _short(number: float) -> str:
    return f"{number:g}"

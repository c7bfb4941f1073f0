"""The executable schema: our trimmed SDL, Kraken's scalar encodings and the root resolvers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    StringValueNode,
    ValueNode,
    build_schema,
    value_from_ast_untyped,
)

from .resolvers import ROOT_RESOLVERS

SDL_PATH = Path(__file__).with_name("schema.graphql")


def parse_datetime(value: str) -> datetime:
    """ISO-8601 with ``Z``, ``+00:00``, ``+0000`` or no offset (= UTC), as Kraken accepts."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _serialize_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"DateTime cannot represent {value!r}")


def _parse_datetime_value(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"DateTime cannot represent non-string value: {value!r}")
    return parse_datetime(value)


def _parse_datetime_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise TypeError("DateTime cannot represent a non-string literal")
    return parse_datetime(node.value)


def _serialize_date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"Date cannot represent {value!r}")


def _parse_date(value: Any) -> date:
    return date.fromisoformat(str(value))


def _parse_date_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> date:
    if not isinstance(node, StringValueNode):
        raise TypeError("Date cannot represent a non-string literal")
    return date.fromisoformat(node.value)


def _serialize_decimal(value: Any) -> str:
    return str(value)  # Kraken renders Decimal as a JSON string, e.g. "624.0" or "0E+1"


def _parse_decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"Decimal cannot represent {value!r}") from None


def _parse_decimal_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Decimal:
    return _parse_decimal(value_from_ast_untyped(node))


def _identity(value: Any) -> Any:
    return value


def _generic_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


def _scalar(schema: GraphQLSchema, name: str) -> GraphQLScalarType:
    scalar = schema.type_map[name]
    assert isinstance(scalar, GraphQLScalarType)
    return scalar


@cache
def kraken_schema() -> GraphQLSchema:
    """Build (once) the schema with scalars and resolvers attached."""
    schema = build_schema(SDL_PATH.read_text(encoding="utf-8"))
    codecs = {
        "DateTime": (_serialize_datetime, _parse_datetime_value, _parse_datetime_literal),
        "Date": (_serialize_date, _parse_date, _parse_date_literal),
        "Decimal": (_serialize_decimal, _parse_decimal, _parse_decimal_literal),
        "GenericScalar": (_identity, _identity, _generic_literal),
    }
    for name, (serialize, parse_value, parse_literal) in codecs.items():
        scalar = _scalar(schema, name)
        scalar.serialize = serialize  # type: ignore[method-assign]
        scalar.parse_value = parse_value  # type: ignore[method-assign]
        scalar.parse_literal = parse_literal  # type: ignore[method-assign]
    for (type_name, field_name), resolver in ROOT_RESOLVERS.items():
        root = schema.type_map[type_name]
        assert isinstance(root, GraphQLObjectType)
        root.fields[field_name].resolve = resolver
    return schema

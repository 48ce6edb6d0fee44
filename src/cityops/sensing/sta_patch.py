"""JSON Patch (RFC 6902) on an entity's JSON, for ``PATCH`` with ``application/json-patch+json``.

SensorThings 1.1 (§10.3.2) lets a client update an entity either with the properties to
replace (``application/json``) or with a JSON Patch. Both end as "these top-level properties,
with these new values": :func:`apply_json_patch` runs the operations on a copy of the entity's
editable JSON (``add``, ``remove``, ``replace``, ``move``, ``copy``, ``test``, with JSON
Pointers per RFC 6901) and :func:`changed` says which top-level properties differ afterwards.
A failed ``test`` or a pointer to nothing refuses the whole patch (nothing is written).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cityops.kernel.errors import ValidationFailed

_OPS = ("add", "remove", "replace", "move", "copy", "test")
MAX_OPERATIONS = 1000


def _fail(index: int, rule: str, message: str) -> ValidationFailed:
    return ValidationFailed.single(f"patch[{index}]", rule, message)


def _pointer(text: Any, index: int, name: str = "path") -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise _fail(index, "json_pointer", f"{name} is a JSON Pointer such as '/name'")
    if not text:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _parent(document: Any, tokens: list[str], index: int) -> tuple[Any, str]:
    if not tokens:
        raise _fail(index, "json_pointer", "the whole entity cannot be replaced by a patch")
    target = document
    for token in tokens[:-1]:
        target = _child(target, token, index)
    return target, tokens[-1]


def _child(target: Any, token: str, index: int) -> Any:
    if isinstance(target, dict) and token in target:
        return target[token]
    if isinstance(target, list) and token.isdigit() and int(token) < len(target):
        return target[int(token)]
    raise _fail(index, "exists", f"nothing at '{token}'")


def _get(document: Any, tokens: list[str], index: int) -> Any:
    target = document
    for token in tokens:
        target = _child(target, token, index)
    return target


def _remove(document: Any, tokens: list[str], index: int) -> Any:
    parent, last = _parent(document, tokens, index)
    value = _child(parent, last, index)
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return value


def _add(document: Any, tokens: list[str], value: Any, index: int, *, replace: bool) -> None:
    parent, last = _parent(document, tokens, index)
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _fail(index, "exists", f"nothing at '{last}' to replace")
        parent[last] = value
        return
    if not isinstance(parent, list):
        raise _fail(index, "json_pointer", "the pointer goes through a value, not a container")
    if last == "-" and not replace:
        parent.append(value)
        return
    if not last.isdigit() or int(last) > len(parent) - (1 if replace else 0):
        raise _fail(index, "exists", f"no position '{last}' in the array")
    if replace:
        parent[int(last)] = value
    else:
        parent.insert(int(last), value)


def apply_json_patch(document: Mapping[str, Any], operations: Any) -> dict[str, Any]:
    """Return a copy of ``document`` with the operations applied, or raise ValidationFailed."""
    if not isinstance(operations, list):
        raise ValidationFailed.single("patch", "array", "a JSON Patch is an array of operations")
    if len(operations) > MAX_OPERATIONS:
        raise ValidationFailed.single(
            "patch", "max_items", f"at most {MAX_OPERATIONS} operations per patch"
        )
    result: dict[str, Any] = copy.deepcopy(dict(document))
    for index, operation in enumerate(operations):
        if not isinstance(operation, Mapping) or operation.get("op") not in _OPS:
            raise _fail(index, "one_of", f"op is one of {', '.join(_OPS)}")
        op = operation["op"]
        tokens = _pointer(operation.get("path"), index)
        if op in ("add", "replace", "test") and "value" not in operation:
            raise _fail(index, "required", f"{op} needs a value")
        if op == "test":
            if _get(result, tokens, index) != operation["value"]:
                raise _fail(index, "test", f"the value at {operation['path']} differs")
        elif op == "remove":
            _remove(result, tokens, index)
        elif op in ("add", "replace"):
            value = copy.deepcopy(operation["value"])
            _add(result, tokens, value, index, replace=op == "replace")
        else:
            source = _pointer(operation.get("from"), index, "from")
            if op == "move" and tokens[: len(source)] == source and tokens != source:
                raise _fail(index, "json_pointer", "a value cannot move into itself")
            moved = (
                _remove(result, source, index)
                if op == "move"
                else copy.deepcopy(_get(result, source, index))
            )
            _add(result, tokens, moved, index, replace=False)
    return result


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Return the top-level properties that differ (a removed one is given as None)."""
    updates = {k: v for k, v in after.items() if before.get(k, _MISSING) != v}
    updates.update({k: None for k in before if k not in after})
    return updates


_MISSING = object()

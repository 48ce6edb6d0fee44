"""The XML documents of Open311 GeoReport v2, built with ElementTree (text is always escaped)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _singular(tag: str) -> str:
    return tag[:-1] if tag.endswith("s") else f"{tag}_item"


def _fill(element: ET.Element, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        child = ET.SubElement(element, key)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list):
            for item in value:
                _fill(ET.SubElement(child, _singular(key)), item)
        else:
            child.text = _text(value)


def _serialise(root: ET.Element) -> bytes:
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def xml_list(root: str, item: str, items: Iterable[Mapping[str, Any]]) -> bytes:
    """Return ``<root><item>…</item>…</root>`` as UTF-8 bytes with the XML declaration.

    ``None`` is an empty element, booleans are ``true``/``false``, a list of mappings is a
    container of singular elements (``attributes`` → ``attribute``); characters XML 1.0 cannot
    carry are dropped, and everything else is escaped by ElementTree.
    """
    element = ET.Element(root)
    for data in items:
        _fill(ET.SubElement(element, item), data)
    return _serialise(element)


def xml_object(root: str, data: Mapping[str, Any]) -> bytes:
    """Return one mapping as ``<root>…</root>`` (like :func:`xml_list`)."""
    element = ET.Element(root)
    _fill(element, data)
    return _serialise(element)

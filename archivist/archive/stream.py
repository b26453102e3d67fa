"""Writing large XML and JSON documents a piece at a time, with the bytes of the whole-document writers.

``describe`` writes one PREMIS object, one METS amdSec and one RO-Crate entity
per payload file; a feature-length element with its outputs is some 650,000
files. Built as whole trees these documents took about 80 KB of memory per
file. Here each piece is built, serialised and dropped, so memory holds the
open elements only, and the bytes are those ``lxml.etree.tostring(root,
pretty_print=True)`` and ``json.dumps(doc, indent=2)`` give for the whole
document.
"""

from __future__ import annotations

import json
from typing import Protocol

from lxml import etree

XML_DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>\n"
_MARKER = "archivist-stream-marker"
_MARKER_TAG = f"<{_MARKER}/>".encode()


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class XmlStream:
    """One pretty-printed XML document, written element by element.

    ``open`` starts a container (its start tag is written when its first child is), ``write`` writes a
    whole child element of the innermost open container, ``close`` ends it. Each piece is serialised
    inside a skeleton of its open ancestors (one child each), so namespace declarations and indentation
    come out as they would in the whole tree: a child's bytes are the skeleton's serialisation less the
    ancestors' start and end tags, measured once per container with a marker element.
    """

    def __init__(self, out: Writable, root: etree._Element):
        self.out = out
        self.root = root
        # Per open container: (element, start-tag bytes written?, head, tail, end-tag bytes)
        self._stack: list[list] = []
        out.write(XML_DECLARATION)
        self._push(root, parent=None)

    def _push(self, el: etree._Element, parent: etree._Element | None) -> None:
        self._stack.append([el, False, b"", b"", b"", parent])

    def _frame(self, el: etree._Element) -> tuple[bytes, bytes]:
        """Bytes before and after a child of ``el`` in the skeleton's serialisation."""
        marker = etree.SubElement(el, _MARKER)
        s = etree.tostring(self.root, pretty_print=True)
        el.remove(marker)
        at = s.index(_MARKER_TAG)
        start = s.rindex(b"\n", 0, at) + 1
        end = s.index(b"\n", at) + 1
        return s[:start], s[end:]

    def _materialise(self) -> None:
        """Write the start tags of open containers that have no child written yet."""
        for i, frame in enumerate(self._stack):
            if frame[1]:
                continue
            el, parent = frame[0], frame[5]
            if parent is not None:
                parent.append(el)
            head, tail = self._frame(el)
            if i == 0:
                self.out.write(head)
                frame[4] = tail
            else:
                outer = self._stack[i - 1]
                self.out.write(head[len(outer[2]):])
                frame[4] = tail[:len(tail) - len(outer[3])]
            frame[1], frame[2], frame[3] = True, head, tail

    def open(self, el: etree._Element) -> None:
        """Start ``el`` (no children yet) inside the innermost open container."""
        if len(el):
            raise ValueError("an opened element is written child by child; it must start empty")
        self._push(el, parent=self._stack[-1][0])

    def write(self, el: etree._Element) -> None:
        """Write ``el`` whole as the next child of the innermost open container."""
        self._materialise()
        frame = self._stack[-1]
        parent, head, tail = frame[0], frame[2], frame[3]
        parent.append(el)
        try:
            s = etree.tostring(self.root, pretty_print=True)
        finally:
            parent.remove(el)
        if not (s.startswith(head) and s.endswith(tail)):  # never expected: the skeleton is fixed
            raise RuntimeError("the XML stream's skeleton changed while an element was written")
        self.out.write(s[len(head):len(s) - len(tail)])

    def close(self) -> None:
        """End the innermost open container (an empty one is written as an empty element)."""
        el, started, _, _, end, parent = self._stack.pop()
        if started:
            self.out.write(end)
            if parent is not None:
                parent.remove(el)
        elif parent is None:
            self.out.write(etree.tostring(el, pretty_print=True))
        else:
            self.write(el)


def json_lines(obj: object, level: int) -> str:
    """``obj`` as ``json.dumps(indent=2)`` writes it nested ``level`` deep (JSON strings hold no newline)."""
    pad = "  " * level
    return "\n".join(pad + line for line in json.dumps(obj, indent=2, ensure_ascii=False).split("\n"))

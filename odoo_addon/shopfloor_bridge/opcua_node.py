"""OPC UA node ids as text (OPC 10000-6, the NodeId string form), pure Python (no ORM).

``[ns=<namespace index>; | nsu=<namespace URI>;] <type>=<identifier>``: the index a UInt16,
the identifier ``i=<UInt32>``, ``s=<string>``, ``g=<GUID 8-4-4-4-12>`` or ``b=<base64>``;
``ns=0;`` may be left out. A bare name (``Server_ServerStatus_CurrentTime``) is a standard node
of namespace 0 by its name in the specification's NodeIds table: the sidecar knows the table and
says so when the name is not in it.

The sidecar reads addresses with the same grammar (``sidecar/src/sources/opcua/node-id.ts``);
``test/contract/opcua-node-id.int.test.ts`` holds both to it and to asyncua's reader. A rule is
checked when it is saved, so a typo (``Line1/Press03/Good`` without its ``ns=2;s=``) is refused
in the form instead of leaving the rule unread on the floor.
"""

import json
import re

UINT16_MAX = 65535
UINT32_MAX = 4294967295
EXAMPLE = "ns=2;s=Line1/Press03/Good"
DIGITS = re.compile(r"[0-9]+")
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_NAMES = {"ns", "nsu", "i", "s", "g", "b"}
# opc.tcp://host[:port][/path]: the one transport node-opcua (the sidecar's stack) speaks.
ENDPOINT = re.compile(
    r"opc\.tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?(/[^\s\x00-\x1f\x7f-\x9f\ufeff]*)?"
)
ENDPOINT_EXAMPLE = "opc.tcp://plc-gateway:4840 (or with a path: opc.tcp://ignition:62541/discovery)"


def _unsendable(text):
    """The first control character (C0, DEL, C1) or lone surrogate of ``text``, as U+XXXX; None if none."""
    for char in text:
        point = ord(char)
        if point < 0x20 or 0x7F <= point <= 0x9F or 0xD800 <= point <= 0xDFFF:
            return f"U+{point:04X}"
    return None


def _unsigned(digits, maximum):
    """``digits`` without leading zeros when they are a whole number up to ``maximum``, else None."""
    if not DIGITS.fullmatch(digits):
        return None
    value = digits.lstrip("0") or "0"
    if len(value) > len(str(maximum)) or int(value) > maximum:
        return None
    return value


def _quoted(text):
    """``text`` as a JSON string, as the sidecar's messages show it."""
    return json.dumps(text, ensure_ascii=False)


def _read_namespace(text):
    """``(where, rest, problem)``: the namespace ``text`` names (``ns=``, ``nsu=`` or none: 0) and what follows."""
    if text.startswith("ns="):
        end = text.find(";")
        index = text[3:] if end < 0 else text[3:end]
        if end < 0:
            return None, None, f"has no ';' after ns={index}: write ns=<index>;s=<name>"
        value = _unsigned(index, UINT16_MAX)
        if value is None:
            return None, None, f"namespace index {_quoted(index)} is not a whole number from 0 to 65535"
        return {"namespace": int(value)}, text[end + 1 :], None
    if text.startswith("nsu="):
        end = text.find(";")
        if end < 0:
            return None, None, "has no ';' after its namespace URI: write nsu=<URI>;s=<name>"
        uri = text[4:end]
        if not uri:
            return None, None, "namespace URI (nsu=) is empty"
        bad = _unsendable(uri)
        if bad:
            return None, None, f"namespace URI holds a control character ({bad})"
        return {"namespace_uri": uri}, text[end + 1 :], None
    return {"namespace": 0}, text, None


def _read_identifier(kind, raw):
    """``(identifier, problem)`` of the identifier ``raw`` of type ``kind``."""
    if kind == "i":
        identifier = _unsigned(raw, UINT32_MAX)
        if identifier is None:
            return None, f"numeric identifier {_quoted(raw)} is not a whole number from 0 to 4294967295"
        return identifier, None
    if kind == "s":
        if not raw:
            return None, "string identifier (s=) is empty"
        bad = _unsendable(raw)
        if bad:
            return None, f"string identifier holds a control character ({bad})"
        return raw, None
    if kind == "g":
        if not GUID.fullmatch(raw):
            return None, f"GUID {_quoted(raw)} is not of the form 72962B91-FA75-4AE6-8D28-B404DC7DAF63"
        return raw.upper(), None
    if not raw or not BASE64.fullmatch(raw):
        return None, f"ByteString identifier {_quoted(raw)} is not base64 (e.g. b=AQID)"
    return raw, None


def read_node_id(text):
    """``(node, name, problem)``: ``node`` a dict (``namespace`` or ``namespace_uri``, ``kind``,
    ``identifier``) when ``text`` is a node id, ``name`` when it is a bare standard name,
    ``problem`` a sentence for the person who typed it when it is neither."""
    if not text:
        return None, None, f"is empty: give an OPC UA node id, e.g. {EXAMPLE}"
    if NAME.fullmatch(text) and text not in RESERVED_NAMES:
        return None, text, None
    where, rest, problem = _read_namespace(text)
    if problem:
        return None, None, problem
    kind = rest[:1]
    if rest[1:2] != "=" or kind not in ("i", "s", "g", "b"):
        if rest == text:
            return (
                None,
                None,
                f"is not an OPC UA node id: write ns=<index>;s=<name> (e.g. {EXAMPLE}), ns=<index>;i=<number>, "
                "ns=<index>;g=<GUID>, ns=<index>;b=<base64> or nsu=<namespace URI>;s=<name>",
            )
        shown = rest.split("=", 1)[0]
        return None, None, f"identifier type {_quoted(shown)} is none of i (number), s (string), g (GUID), b (base64)"
    identifier, problem = _read_identifier(kind, rest[2:])
    if problem:
        return None, None, problem
    return dict(where, kind=kind, identifier=identifier), None, None


def node_id_error(text):
    """Why ``text`` is no OPC UA node id ('' when it is one)."""
    return read_node_id(text)[2] or ""


def endpoint_error(url):
    """Why ``url`` is no OPC UA endpoint the sidecar can connect to ('' when it is one)."""
    match = ENDPOINT.fullmatch(url or "")
    if not match:
        return f"{_quoted(url or '')} is not an OPC UA endpoint: write {ENDPOINT_EXAMPLE}"
    port = match.group(2)
    if port is not None and not 1 <= int(port) <= UINT16_MAX:
        return f"{_quoted(url)}: port {port} is not a TCP port (1 to 65535)"
    return ""

"""Text PostgreSQL can store, from any text the floor sends.

JSON-RPC hands ``ingest`` Python strings that may hold NUL (PostgreSQL text
cannot) and lone surrogates (``"\\ud800"`` in JSON decodes to one; it has no
UTF-8 form, so psycopg2 cannot encode it). One such string in a multi-row
INSERT would fail the whole batch. Everything else — C0 controls, CR and LF,
U+FFFE/U+FFFF, emoji — is stored as sent.

``escape`` shows the two classes as ``\\x00`` and ``\\ud800`` (the way Python
writes them); the event then carries the escaped text everywhere it is used
(lookups, apply), and ``ingest`` keeps the item as sent in ``raw_b64``.
"""

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text made by ``escape_surrogates_in_json(json.dumps(...))``, NUL and
# lone surrogates only appear as these escapes (more may match: a cheap pre-check).
_ESCAPED_IN_JSON = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _escaped(match):
    char = match.group()
    return "\\x00" if char == "\x00" else f"\\u{ord(char):04x}"


def escape(text):
    """``text`` with NUL and lone surrogates written as escapes; other text unchanged."""
    return UNSTORABLE.sub(_escaped, text) if UNSTORABLE.search(text) else text


def answerable(text):
    """``text`` Odoo's JSON answer can carry: it encodes with ``ensure_ascii=False``
    then UTF-8, which a lone surrogate fails (the whole answer with it), so those
    are written as ``\\ud800``; NUL travels as JSON's own ``\\u0000``."""
    return _SURROGATE.sub(_escaped, text) if _SURROGATE.search(text) else text


def escape_surrogates_in_json(json_text):
    """JSON text with lone surrogates escaped as JSON does (``\\ud800``): it then
    encodes to UTF-8 and ``json.loads`` reads back the same strings. Raw
    surrogates only occur inside JSON strings, where the escape is valid."""
    if not _SURROGATE.search(json_text):
        return json_text
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)


def may_hold_unstorable(json_text):
    """False when JSON text (surrogates escaped) holds no NUL and no lone surrogate."""
    return bool(_ESCAPED_IN_JSON.search(json_text))


def escape_deep(value, path="$", escaped_at=None):
    """A copy of a JSON value with every string (keys too) escaped.

    Returns ``(copy, paths)``: where something was escaped, for the event's note.
    The value itself is returned when nothing needed escaping.
    """
    escaped_at = [] if escaped_at is None else escaped_at
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            escaped_at.append(path)
            return escape(value), escaped_at
        return value, escaped_at
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            shown_key = key
            if isinstance(key, str) and UNSTORABLE.search(key):
                shown_key = escape(key)
                escaped_at.append(f"{path} (key {shown_key})")
            copy[shown_key], _paths = escape_deep(item, f"{path}.{shown_key}", escaped_at)
        return copy, escaped_at
    if isinstance(value, list | tuple):
        return [escape_deep(item, f"{path}[{index}]", escaped_at)[0] for index, item in enumerate(value)], escaped_at
    return value, escaped_at

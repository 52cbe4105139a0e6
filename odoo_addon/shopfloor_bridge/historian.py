"""Historian import connections (a CSV drop folder, an SQL query), pure Python (no ORM).

What a connection of kind ``folder`` or ``sql`` names must be something the
sidecar can use, so a typing error shows on the connection form and not as a
sidecar that cannot start. Each function answers why a value is wrong ('' when
it is right); the connection model turns that into the message a person reads.
The sidecar's side: ``sidecar/src/sources/folder`` and ``sidecar/src/sources/sql``.
"""

import re

HISTORIAN_KINDS = ("folder", "sql")
CSV_ENCODINGS = [
    ("utf-8", "UTF-8"),
    ("windows-1252", "Windows-1252 (ANSI)"),
    ("utf-16", "UTF-16 (byte order mark; little-endian without)"),
    ("utf-16le", "UTF-16 little-endian"),
    ("utf-16be", "UTF-16 big-endian"),
]
CSV_DELIMITERS = [
    ("auto", "Detect from the header"),
    ("comma", "Comma (,)"),
    ("semicolon", "Semicolon (;)"),
    ("tab", "Tab"),
    ("pipe", "Pipe (|)"),
]
SQL_DRIVERS = [("postgresql", "PostgreSQL"), ("mariadb", "MariaDB / MySQL")]
APPLY_MODES = [("realtime", "On arrival"), ("batch", "Batch: stored now, applied by the cron at the batch time")]
PLACEHOLDER = re.compile(r"(?<![:\w]):last\b")
GLOB = re.compile(r"^[^/\\\x00-\x1f]+$")
SQL_WRITES = re.compile(r"\b(insert|update|delete|merge|drop|alter|create|truncate|grant|revoke)\b", re.I)


def folder_path_error(path):
    path = (path or "").strip()
    if not path:
        return "a folder path is required"
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path (it starts with /, as the sidecar's machine mounts it)"
    if any(ord(char) < 32 for char in path):
        return "the path holds a control character"
    return ""


def folder_pattern_error(pattern):
    pattern = (pattern or "").strip()
    if not pattern:
        return "a file pattern is required (e.g. *.csv)"
    if not GLOB.match(pattern):
        return f"{pattern!r} is a file name pattern of * and ?, without / or control characters"
    lowered = pattern.lower()
    if lowered.endswith((".tmp", ".part", ".reason.txt")):
        return f"{pattern!r} names files the sidecar never takes (written in progress, or its own reason files)"
    return ""


def sql_query_error(query, watermark_column):
    text = (query or "").strip()
    if not text:
        return "a query is required"
    if not re.match(r"^(select|with)\b", text, re.I):
        return "the query must be a SELECT (or WITH … SELECT): the sidecar only reads"
    if SQL_WRITES.search(re.sub(r"'[^']*'", "", text)):
        return "the query must only read: it names a statement that writes"
    if not PLACEHOLDER.search(text):
        return "the query needs :last where the watermark goes, e.g. WHERE DateTime >= :last ORDER BY DateTime"
    if re.search(r">\s*:last\b", text) and not re.search(r">=\s*:last\b", text):
        return (
            "compare with >= :last, not > :last: rows written later with the watermark's own timestamp would be "
            "lost (the sidecar skips the rows it already took at that timestamp)"
        )
    column = (watermark_column or "").strip()
    if not column:
        return "a watermark column is required (the column the query orders by, e.g. DateTime)"
    if not re.search(r"\border\s+by\b", text, re.I):
        return f"the query must ORDER BY the watermark column ({column}): the watermark moves with the rows"
    return ""


def initial_watermark_error(value):
    text = (value or "").strip()
    if not text:
        return "an initial watermark is required (e.g. 1970-01-01 00:00:00, or 0 for a numeric column)"
    if "'" in text or any(ord(char) < 32 for char in text):
        return "the initial watermark holds a quote or a control character"
    return ""

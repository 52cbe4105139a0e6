"""MQTT topic filters and HTTP route patterns of payload mappings, pure Python (no ORM).

The sidecar matches payloads against the same patterns (``sidecar/src/mapping``);
this copy lets Odoo check a pattern when it is saved and pick the rejected
payloads a mapping would take. MQTT 3.1.1 §4.7 / MQTT 5 §4.7: levels are
separated by ``/``; ``+`` matches one whole level, ``#`` the rest of the topic
(including its parent level) and only as the last level; a filter starting
with a wildcard does not match topics starting with ``$`` (``$SYS/…``).
HTTP routes use the same wildcards over ``/``-separated levels; as the
sidecar's intake takes a route (``sidecar/src/sources/http/routes.ts``) a
level is never empty nor holds a control character, and a route is at most
256 characters.
"""

import re

MAX_PATTERN_BYTES = 65535
MAX_ROUTE_CHARS = 256
# A Sparkplug B group, edge node or host id: one topic level, no wildcard (spec: no + / #).
SPARKPLUG_ID = re.compile(r"^[^/+#]+$")
# Unicode's control characters (category Cc): C0, DEL and C1 (U+0085 is a line break to Python).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def mqtt_filter_error(pattern):
    """Why ``pattern`` is not a valid MQTT topic filter ('' when it is)."""
    if not isinstance(pattern, str) or not pattern:
        return "a topic filter must not be empty"
    if len(pattern.encode("utf-8", "surrogatepass")) > MAX_PATTERN_BYTES:
        return f"a topic filter is at most {MAX_PATTERN_BYTES} bytes"
    if "\x00" in pattern:
        return "a topic filter must not contain the NUL character"
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one (e.g. plant1/#)"
        if "+" in level and level != "+":
            return "'+' must be a whole level (e.g. plant1/+/count, not plant1/line+)"
    return ""


def route_error(pattern):
    """Why ``pattern`` is not a valid HTTP route pattern ('' when it is)."""
    if not isinstance(pattern, str) or not pattern:
        return "a route must not be empty"
    if len(pattern) > MAX_ROUTE_CHARS:
        return f"a route is at most {MAX_ROUTE_CHARS} characters"
    if pattern.startswith("/") or pattern.endswith("/"):
        return "a route has no leading or trailing '/' (it is what follows /routes/ in the URL)"
    if CONTROL.search(pattern):
        return "a route holds no control characters (U+0000 to U+001F, U+007F to U+009F)"
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if not level:
            return "a route has no empty level ('//')"
        if level == "#":
            if index != len(levels) - 1:
                return "'#' must be the last level"
            continue
        if level == "+":
            continue
        if "#" in level or "+" in level:
            return "'+' and '#' must be whole levels"
    return ""


def pattern_error(transport, pattern):
    """Why ``pattern`` is not valid for ``transport`` ('mqtt' or 'http'); '' when it is."""
    return route_error(pattern) if transport == "http" else mqtt_filter_error(pattern)


def topic_matches(pattern, topic):
    """Whether the topic (or route) ``topic`` matches the filter ``pattern``.

    Only for patterns ``pattern_error`` accepts. A topic is never empty nor
    holds a wildcard: such a "topic" matches nothing."""
    if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
        return False
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    wanted = pattern.split("/")
    levels = topic.split("/")
    for index, level in enumerate(wanted):
        if level == "#":
            return True
        if index >= len(levels):
            return False
        if level != "+" and level != levels[index]:
            return False
    return len(levels) == len(wanted)


ID_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


def split_id_fields(text):
    """The dotted paths of an ``id_fields`` text: one per line or comma-separated, blanks dropped."""
    return [part.strip() for line in (text or "").splitlines() for part in line.split(",") if part.strip()]


def id_field_error(path):
    """Why ``path`` is not a dotted path such as ``data.order`` ('' when it is)."""
    if not ID_FIELD_PATH.match(path):
        return (
            f"{path!r} is not a dotted path: names of letters, digits, '_' and '-' joined by '.', "
            "starting with an attribute of the event (source, type, time, data.order…)"
        )
    return ""

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
# A Sparkplug B group, edge node or host id: one topic level, no wildcard (spec: no + / #);
# ``sparkplug_id_error`` also refuses what no MQTT topic may hold.
SPARKPLUG_ID = re.compile(r"^[^/+#]+$")
# Unicode's control characters (category Cc): C0, DEL and C1 (U+0085 is a line break to Python).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
UNSENDABLE_WHY = "a control character, a Unicode non-character or a lone surrogate"


def unsendable(text):
    """The code point of the first character of ``text`` that MQTT lets a broker refuse, or None.

    MQTT 5 §1.5.4 (3.1.1 §1.5.3): a string is well-formed UTF-8 (no surrogate), never holds
    U+0000, and a receiver may treat control characters (U+0001 to U+001F, U+007F to U+009F)
    and Unicode non-characters (U+FDD0 to U+FDEF, and the last two code points of every plane)
    as a malformed packet. Mosquitto does: it closes the connection of a client that
    subscribes or publishes with one."""
    for char in text:
        point = ord(char)
        if (
            point < 0x20
            or 0x7F <= point <= 0x9F
            or 0xD800 <= point <= 0xDFFF
            or 0xFDD0 <= point <= 0xFDEF
            or point & 0xFFFE == 0xFFFE
        ):
            return point
    return None


def mqtt_filter_error(pattern, noun="topic filter"):
    """Why ``pattern`` is not a valid MQTT topic filter ('' when it is); messages name it ``noun``."""
    if not isinstance(pattern, str) or not pattern:
        return f"a {noun} must not be empty"
    if len(pattern.encode("utf-8", "surrogatepass")) > MAX_PATTERN_BYTES:
        return f"a {noun} is at most {MAX_PATTERN_BYTES} bytes"
    point = unsendable(pattern)
    if point is not None:
        return (
            f"a {noun} may not hold {UNSENDABLE_WHY} (here U+{point:04X}): "
            "MQTT lets a broker refuse it, and Mosquitto drops the connection"
        )
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one (e.g. plant1/#)"
        if "+" in level and level != "+":
            return "'+' must be a whole level (e.g. plant1/+/count, not plant1/line+)"
    return ""


def mqtt_topic_error(topic):
    """Why ``topic`` is not an MQTT topic name one can publish to ('' when it is): a filter
    without wildcards."""
    if isinstance(topic, str) and ("+" in topic or "#" in topic):
        return "a topic to publish to has no wildcard (+ or #)"
    return mqtt_filter_error(topic, noun="topic")


def line_control_error(text):
    """Why a text of one item per line holds what no item may ('' when it does not): the first
    line with a control character other than tabs and a \r ending it (Windows line ends).

    Checked before the text is split: Python's ``splitlines`` reads U+000D, U+001C to U+001E
    and U+0085 as line breaks and ``strip`` takes U+001C to U+001F for spaces, so an item
    holding one would silently become two items, or another one."""
    for number, line in enumerate((text or "").split("\n"), start=1):
        found = CONTROL.search(line.rstrip("\r").replace("\t", " "))
        if found:
            return f"line {number} holds a control character (U+{ord(found.group()):04X})"
    return ""


def filter_list_error(text):
    """Why the text of a list of MQTT topic filters, one per line, is not one ('' when it is):
    ``line_control_error``, or the first line that is no filter."""
    error = line_control_error(text)
    if error:
        return f"{error}, which MQTT lets a broker refuse (Mosquitto drops the connection)"
    for number, line in enumerate((text or "").split("\n"), start=1):
        error = mqtt_filter_error(line.strip()) if line.strip() else ""
        if error:
            return f"line {number}: {error}"
    return ""


def sparkplug_id_error(value):
    """Why ``value`` is not a Sparkplug B group, edge node or host id ('' when it is): one
    topic level, set, without / + #, and nothing MQTT lets a broker refuse."""
    if not isinstance(value, str) or not SPARKPLUG_ID.match(value):
        return "must be set, without / + # (they are topic levels in Sparkplug B)"
    point = unsendable(value)
    if point is not None:
        return f"may not hold {UNSENDABLE_WHY} (here U+{point:04X}): MQTT lets a broker refuse it"
    return ""


def sparkplug_address_error(address, group=None):
    """Why ``address`` is not the address of a Sparkplug B metric ('' when it is): ``group/edge node/device/metric``,
    the device empty for an edge node's own metric (``group/edge node//metric``), the metric name the rest (it
    may hold ``/``). With ``group``, the metric must be of that group: the host reads no other."""
    parts = address.split("/", 3) if isinstance(address, str) else []
    if len(parts) < 4 or not parts[3]:
        return (
            f"{address!r} is not a Sparkplug B metric address: write group/edge node/device/metric "
            "(e.g. Plant1/Line1-Edge/Press03/Count; the device empty for an edge node's own metric: "
            "Plant1/Line1-Edge//Count)"
        )
    for label, value in (("group id", parts[0]), ("edge node id", parts[1]), ("device id", parts[2])):
        if label == "device id" and not value:
            continue
        error = sparkplug_id_error(value)
        if error:
            return f"{address!r}: its {label} {value!r} {error}"
    if group and parts[0] != group:
        return f"{address!r} is a metric of group {parts[0]!r}, and the connection's host reads group {group!r} only"
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
    """The dotted paths of an ``id_fields`` text: one per line or comma-separated, blanks dropped.

    Only for a text ``id_fields_error`` accepts: Python reads U+001C to U+001E and U+0085 as
    line breaks, so ``data.or<U+0085>der`` would become two paths, both valid, without a word."""
    return [part.strip() for line in (text or "").splitlines() for part in line.split(",") if part.strip()]


def id_fields_error(text):
    """Why an ``id_fields`` text is not a list of dotted paths ('' when it is):
    ``line_control_error``, or a path ``id_field_error`` refuses."""
    error = line_control_error(text)
    if error:
        return error
    for path in split_id_fields(text):
        error = id_field_error(path)
        if error:
            return error
    return ""


def id_field_error(path):
    """Why ``path`` is not a dotted path such as ``data.order`` ('' when it is)."""
    if not ID_FIELD_PATH.match(path):
        return (
            f"{path!r} is not a dotted path: names of letters, digits, '_' and '-' joined by '.', "
            "starting with an attribute of the event (source, type, time, data.order…)"
        )
    return ""

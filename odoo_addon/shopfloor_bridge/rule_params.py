"""The parameters of a tag rule, between the form's typed fields and the sidecar's ``params``.

Pure Python (no ORM). ``params`` is what ``MappingRule.params`` carries to the
sidecar (``sidecar/src/core/contract.ts``); the rule engines
(``sidecar/src/rules/``) read exactly these keys:

=================  ==========================  =========================================
key                kinds                        typed field
=================  ==========================  =========================================
scale, offset      every kind                   use_scale + scale, use_offset + offset
unit               every kind                   unit
deadband           every kind, PLC protocols    deadband (0: every change)
wrap_at            counter                      wrap_at (0: never wraps)
window_ms          counter                      window + window_unit (0: each change)
order_address      counter, state               order_address
order              counter, state               fixed_order
operation_address  counter                      operation_address
operation          counter                      fixed_operation
uom                counter                      uom
reason_address     scrap counter, state         reason_address
reason_code        scrap counter                reason_code
material           scrap counter                material
default_reason     state                        default_reason
value_map          state                        value map rows (value → state[:code])
fields, static     trigger                      field rows (field ← tag, or a fixed value)
=================  ==========================  =========================================

``to_params`` builds ``params`` from the typed values; ``from_params`` reads
``params`` back into them. A value the engines treat as absent (null, an
empty text, a window or deadband of 0) is absent in the typed fields too, so
for every ``params`` an engine reads, ``to_params(from_params(p)) == p`` up to
those. ``from_params`` names every key it could not take (unknown, for
another kind, of the wrong type): an import refuses them, the upgrade from
``params_json`` drops them and says so — they are exactly what the engines
ignored or refused, so what the sidecar does is unchanged.
"""

import json
import math

from .plc import PLC_KINDS

MACHINE_STATES = ("running", "idle", "down", "setup", "teardown")
FIELD_SOURCES = ("tag", "text", "number", "boolean")
SAFE_INTEGER = 2**53 - 1

COMMON_KEYS = ("scale", "offset", "unit", "deadband")
KIND_KEYS = {
    "counter": (
        "wrap_at",
        "window_ms",
        "order_address",
        "order",
        "operation_address",
        "operation",
        "uom",
        "reason_address",
        "reason_code",
        "material",
    ),
    "state": ("value_map", "reason_address", "default_reason", "order_address", "order"),
    "trigger": ("fields", "static"),
}
SCRAP_ONLY_KEYS = ("reason_address", "reason_code", "material")
# Text params and the typed field holding each.
TEXT_FIELDS = {
    "unit": "unit",
    "order_address": "order_address",
    "order": "fixed_order",
    "operation_address": "operation_address",
    "operation": "fixed_operation",
    "uom": "uom",
    "reason_address": "reason_address",
    "reason_code": "reason_code",
    "material": "material",
    "default_reason": "default_reason",
}
# Params naming another address the rule reads (checked in the rule's protocol syntax).
ADDRESS_KEYS = ("order_address", "operation_address", "reason_address")


def empty_typed():
    """The typed values of a rule without parameters."""
    typed = dict.fromkeys(TEXT_FIELDS.values(), "")
    typed.update(
        use_scale=False,
        scale=1.0,
        use_offset=False,
        offset=0.0,
        deadband=0.0,
        wrap_at=0.0,
        window=0.0,
        window_unit="ms",
        value_map=[],
        fields=[],
    )
    return typed


def reads(kind, event_type, protocol):
    """The params keys the sidecar reads for a rule of this kind, event type and protocol."""
    keys = ["scale", "offset", "unit"]
    if protocol in PLC_KINDS:
        keys.append("deadband")
    for key in KIND_KEYS.get(kind, ()):
        if kind == "counter" and key in SCRAP_ONLY_KEYS and event_type != "scrap.reported":
            continue
        keys.append(key)
    return keys


def json_number(value):
    """A float as JSON gives it back: an integer when it is one (65536, not 65536.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= SAFE_INTEGER:
        return int(value)
    return value


def window_ms(window, unit):
    """The window in milliseconds, as the sidecar reads ``window_ms``."""
    milliseconds = window * (1000 if unit == "s" else 1)
    nearest = round(milliseconds)
    return json_number(float(nearest)) if abs(milliseconds - nearest) < 1e-6 else milliseconds


def to_params(kind, event_type, protocol, typed):
    """``params`` as the sidecar gets them, from the typed values (only the keys it reads)."""
    wanted = set(reads(kind, event_type, protocol))
    params = {}
    if typed["use_scale"]:
        params["scale"] = json_number(typed["scale"])
    if typed["use_offset"]:
        params["offset"] = json_number(typed["offset"])
    if "deadband" in wanted and typed["deadband"]:
        params["deadband"] = json_number(typed["deadband"])
    if "wrap_at" in wanted and typed["wrap_at"]:
        params["wrap_at"] = json_number(typed["wrap_at"])
    if "window_ms" in wanted and typed["window"]:
        params["window_ms"] = window_ms(typed["window"], typed["window_unit"])
    for key, name in TEXT_FIELDS.items():
        if key in wanted and typed[name]:
            params[key] = typed[name]
    if "value_map" in wanted and typed["value_map"]:
        params["value_map"] = {
            row["value"]: f"down:{row['reason_code']}"
            if row["state"] == "down" and row["reason_code"]
            else row["state"]
            for row in typed["value_map"]
        }
    if kind == "trigger":
        tags = {row["name"]: row["address"] for row in typed["fields"] if row["source"] == "tag"}
        statics = {row["name"]: field_value(row) for row in typed["fields"] if row["source"] != "tag"}
        if tags:
            params["fields"] = tags
        if statics:
            params["static"] = statics
    return params


def field_value(row):
    """The fixed value of a trigger field row."""
    if row["source"] == "number":
        return json_number(row["number_value"])
    if row["source"] == "boolean":
        return bool(row["boolean_value"])
    return row["text_value"]


def _finite_number(value):
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _describe(value):
    return json.dumps(value, ensure_ascii=False)[:80]


def parse_json(text):
    """The params object a JSON text holds, or raises ValueError saying why not."""
    try:
        params = json.loads(text or "{}")
    except ValueError as error:
        raise ValueError(f"the parameters are not valid JSON ({error})") from error
    if not isinstance(params, dict):
        raise ValueError(f"the parameters must be a JSON object ({{…}}), got {_describe(params)}")
    return params


def from_params(kind, event_type, protocol, params):
    """The typed values ``params`` say, and a list of what could not be taken (each a sentence).

    What could not be taken is left out of the typed values: for the
    upgrade, the engines ignored or refused it; for an import, it is an error
    the person fixes.
    """
    typed = empty_typed()
    problems = []
    wanted = reads(kind, event_type, protocol)
    for key, value in params.items():
        if value is None:
            continue  # null: not set, as the engines read it
        if key not in wanted:
            problems.append(_not_read(key, kind, event_type, protocol))
            continue
        if key in ("scale", "offset", "deadband", "wrap_at", "window_ms"):
            error = _number_error(key, value)
            if error:
                problems.append(error)
                continue
            if key == "scale":
                typed.update(use_scale=True, scale=float(value))
            elif key == "offset":
                typed.update(use_offset=True, offset=float(value))
            elif key == "deadband":
                typed["deadband"] = float(value)
            elif key == "wrap_at":
                typed["wrap_at"] = float(value)
            elif value:
                seconds = value >= 1000 and value % 1000 == 0
                typed.update(window=float(value / 1000 if seconds else value), window_unit="s" if seconds else "ms")
        elif key in TEXT_FIELDS:
            if not isinstance(value, str) or (value and not value.strip()):
                problems.append(
                    f'unit must be the floor unit as text (e.g. "PCS"), got {_describe(value)}'
                    if key == "unit"
                    else f"{key} must be text, got {_describe(value)}"
                )
            else:
                typed[TEXT_FIELDS[key]] = value
        elif key == "value_map":
            typed["value_map"] = _value_map(value, problems)
        elif key == "fields":
            typed["fields"] += _tag_fields(value, problems)
        elif key == "static":
            typed["fields"] += _static_fields(value, problems)
    return typed, problems


def _not_read(key, kind, event_type, protocol):
    if key == "deadband":
        return "deadband is read for polled PLCs only (Modbus TCP, Siemens S7, EtherNet/IP)"
    if kind == "counter" and key in SCRAP_ONLY_KEYS:
        return f"{key} is read by counters of scrap.reported only, not {event_type or 'production.reported'}"
    for other, keys in KIND_KEYS.items():
        if key in keys:
            return f"{key} is read by {other} rules, not {kind} rules"
    known = ", ".join(reads(kind, event_type, protocol))
    return f"{key} is not a parameter the sidecar reads (a {kind} rule reads {known})"


def _number_error(key, value):
    if not _finite_number(value):
        return f"{key} must be a number, got {_describe(value)}"
    if abs(value) > SAFE_INTEGER:
        return f"{key} {_describe(value)} is too large"
    if key == "scale" and value == 0:
        return "a scale of 0 turns every value into the offset; leave scale out for 1"
    if key == "wrap_at" and (value < 2 or not float(value).is_integer()):
        return f"wrap_at is the counter's modulus, a whole number of at least 2 (65536 for 16 bits), got {value}"
    if key in ("window_ms", "deadband") and value < 0:
        return f"{key} cannot be negative, got {value}"
    return ""


def state_target_error(target):
    """Why ``target`` is not a value-map state (running, idle, down, down:CODE, setup, teardown)."""
    state, colon, code = target.partition(":")
    if state not in MACHINE_STATES:
        return f"{_describe(target)} is not one of {', '.join(MACHINE_STATES)} or down:CODE"
    if colon and state != "down":
        return f"{_describe(target)}: only down takes a reason code (down:CODE)"
    if colon and (not code or ":" in code or code.strip() != code):
        return f"{_describe(target)}: write the reason code after down: once, without spaces around it"
    return ""


def _value_map(value, problems):
    if not isinstance(value, dict):
        problems.append(f"value_map must be an object of tag value → state, got {_describe(value)}")
        return []
    rows = []
    for tag_value, target in value.items():
        if tag_value == "":
            problems.append("value_map: an empty tag value never matches")
            continue
        if not isinstance(target, str):
            problems.append(f"value_map {_describe(tag_value)}: the state must be text, got {_describe(target)}")
            continue
        error = state_target_error(target)
        if error:
            problems.append(f"value_map {_describe(tag_value)}: {error}")
            continue
        state, _colon, code = target.partition(":")
        rows.append({"value": tag_value, "state": state, "reason_code": code})
    return rows


def _tag_fields(value, problems):
    if not isinstance(value, dict):
        problems.append(f"fields must be an object of event field → tag address, got {_describe(value)}")
        return []
    rows = []
    for name, address in value.items():
        error = field_name_error(name)
        if not error and (not isinstance(address, str) or not address.strip()):
            error = f"fields {_describe(name)}: the tag address must be text, got {_describe(address)}"
        if error:
            problems.append(error)
            continue
        rows.append(_field_row(name, "tag", address=address))
    return rows


def _static_fields(value, problems):
    if not isinstance(value, dict):
        problems.append(f"static must be an object of event field → fixed value, got {_describe(value)}")
        return []
    rows = []
    for name, fixed in value.items():
        error = field_name_error(name)
        if error:
            problems.append(error)
        elif isinstance(fixed, bool):
            rows.append(_field_row(name, "boolean", boolean_value=fixed))
        elif _finite_number(fixed) and abs(fixed) <= SAFE_INTEGER:
            rows.append(_field_row(name, "number", number_value=float(fixed)))
        elif isinstance(fixed, str):
            rows.append(_field_row(name, "text", text_value=fixed))
        else:
            problems.append(
                f"static {_describe(name)}: a fixed value is text, a number or true/false, got {_describe(fixed)}"
            )
    return rows


def _field_row(name, source, address="", text_value="", number_value=0.0, boolean_value=False):
    return {
        "name": name,
        "source": source,
        "address": address,
        "text_value": text_value,
        "number_value": number_value,
        "boolean_value": boolean_value,
    }


def field_name_error(name):
    """Why ``name`` is not an event data field name ('' when it is)."""
    if not isinstance(name, str) or not name or name.strip() != name or any(char.isspace() for char in name):
        return f"{_describe(name)} is not an event field name (e.g. order, qty_good)"
    return ""

"""Directly polled PLCs (Modbus TCP, Siemens S7, EtherNet/IP), pure Python (no ORM).

A connection of kind ``modbus``, ``s7`` or ``enip`` names one PLC; its tag
rules name addresses in that protocol's syntax. Each function answers why a
value is wrong ('' when it is right); the models turn that into the message
a person reads on the form, so a typing error shows there and not as a
sidecar that polls nothing.

The address checks are the sidecar drivers' own grammar
(``sidecar/src/sources/plc/{modbus,s7,enip}/address.ts``, documented in
``sidecar/src/sources/plc/README.md``), so a rule saved here parses there;
what only the PLC knows (does DB10 exist, is the tag that long) is the PLC's
answer, which the sidecar reports on the dashboard.

- Modbus: ``AREA OFFSET [.BIT] [:TYPE] [:ORDER]``, areas ``hr``/``holding``,
  ``ir``/``input``, ``coil``/``co``, ``di``/``discrete``, 0-based offsets,
  e.g. ``hr100:float32:CDAB``, ``hr12.3``, ``coil5``; or the classic 1-based
  numbers ``40101:float32:CDAB`` (4 holding, 3 input, 1 discrete input, 0 coil).
- S7: ``DB<n>,<TYPE><byte>`` (``DB10,INT4``, ``DB10,REAL8``), bits
  ``DB10,X0.3``, strings ``DB10,S20.30`` (byte 20, STRING[30]), STEP 7's
  ``DB10.DBW4``; memory, inputs and outputs ``MW10``, ``M0.1``, ``IB0``,
  ``QD4`` (also the German ``E``/``A``).
- EtherNet/IP (Logix): tag names, controller or program scope,
  ``Program:Main.Count``, ``Counts[3]``, ``Grid[1,2]``, ``Line.Good``,
  ``Flags.3`` (bit 3).
"""

import ipaddress
import re

from .backbone import host_error as _host_name_error

PLC_KINDS = ("modbus", "s7", "enip")
PLC_LABELS = {"modbus": "Modbus TCP", "s7": "Siemens S7", "enip": "EtherNet/IP"}
DEFAULT_PORTS = {"modbus": 502, "s7": 102, "enip": 44818}
DEFAULT_POLL_INTERVAL_MS = 1000
DEFAULT_TIMEOUT_MS = 2000
MIN_POLL_INTERVAL_MS = 50
MAX_POLL_INTERVAL_MS = 86_400_000
MIN_TIMEOUT_MS = 100
MAX_TIMEOUT_MS = 600_000

# The grammars below mirror the drivers' parsers (sources/plc/modbus/address.ts, s7/address.ts,
# enip/address.ts): what a driver reads passes, what it refuses is refused with the same reason.
MODBUS_AREAS = {
    "hr": "hr",
    "holding": "hr",
    "ir": "ir",
    "input": "ir",
    "coil": "coil",
    "co": "coil",
    "di": "di",
    "discrete": "di",
}
MODBUS_BIT_AREAS = ("coil", "di")
MODBUS_WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "int64": 4, "uint64": 4, "float64": 4}
MODBUS_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
MODBUS_MAX_STRING = 125
MODBUS_CLASSIC = re.compile(r"^([0134])(\d{4,5})$")
MODBUS_CLASSIC_AREAS = {"0": "coil", "1": "di", "3": "ir", "4": "hr"}
MODBUS_LOCATION = re.compile(r"^([a-z]+)(\d+)$")
MODBUS_EXAMPLES = "hr100:float32:CDAB, ir7:int16, hr12.3, coil5, hr200:string10 or 40101:float32"

S7_DB_TYPES = {
    "X": "BOOL",
    "B": "BYTE",
    "BYTE": "BYTE",
    "C": "CHAR",
    "CHAR": "CHAR",
    "SINT": "SINT",
    "USINT": "BYTE",
    "I": "INT",
    "INT": "INT",
    "W": "WORD",
    "WORD": "WORD",
    "UINT": "UINT",
    "DI": "DINT",
    "DINT": "DINT",
    "DW": "DWORD",
    "DWORD": "DWORD",
    "UDINT": "UDINT",
    "R": "REAL",
    "REAL": "REAL",
    "LR": "LREAL",
    "LREAL": "LREAL",
    "LI": "LINT",
    "LINT": "LINT",
    "ULI": "ULINT",
    "ULINT": "ULINT",
    "S": "STRING",
    "STRING": "STRING",
    "WS": "WSTRING",
    "WSTRING": "WSTRING",
}
S7_SIZE_LETTERS = {
    "X": "BOOL",
    "B": "BYTE",
    "C": "CHAR",
    "W": "WORD",
    "I": "INT",
    "D": "DWORD",
    "DW": "DWORD",
    "DI": "DINT",
    "R": "REAL",
}
S7_SIZES = {
    "BOOL": 1,
    "BYTE": 1,
    "CHAR": 1,
    "SINT": 1,
    "INT": 2,
    "WORD": 2,
    "UINT": 2,
    "DINT": 4,
    "DWORD": 4,
    "UDINT": 4,
    "REAL": 4,
    "LREAL": 8,
    "LINT": 8,
    "ULINT": 8,
}
S7_DB_FORM = re.compile(r"^DB(\d+),([A-Z]+)(\d+)(?:\.(\d+))?$")
S7_STEP7_DB_FORM = re.compile(r"^DB(\d+)\.DB([XBWD])(\d+)(?:\.(\d+))?$")
S7_AREA_FORM = re.compile(r"^([IEQAM])(X|B|C|W|I|DW|DI|D|R)?(\d+)(?:\.(\d+))?$")
S7_MAX_BYTE = (1 << 21) - 1
S7_MAX_DB = 65535
S7_EXAMPLES = "DB10,INT4, DB10,X0.3, DB10,REAL8, DB10,S20.30, DB10.DBW4, MW10, M0.1, IB0"

LOGIX_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOGIX_MAX_NAME = 40
LOGIX_MAX_DIMENSIONS = 3
LOGIX_MAX_INDEX = 0xFFFFFFFF
LOGIX_PROGRAM = re.compile(r"^Program:([^.]*)\.(.*)$", re.IGNORECASE)
ENIP_EXAMPLES = "Program:Main.Count, Counts[3], Grid[1,2], Line.Good, Flags.3"
EXAMPLES = {"modbus": MODBUS_EXAMPLES, "s7": S7_EXAMPLES, "enip": ENIP_EXAMPLES}


def _is_ip_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def host_error(host):
    """Why ``host`` is not the host name or IP address of a PLC ('' when it is)."""
    if "://" in host:
        return f"{host!r} holds a scheme; give the host alone (e.g. 192.168.0.10 or plc1.plant)"
    if _is_ip_address(host):
        return ""
    if host.startswith("["):
        return f"{host!r}: write an IPv6 address without brackets (the port has its own field)"
    if host.count(":") == 1:
        return f"{host!r} holds a port; put the port in PLC port"
    return _host_name_error(host)


def address_error(protocol, address):
    """Why ``address`` is not something the ``protocol`` driver reads ('' when it is)."""
    text = (address or "").strip()  # the drivers trim too
    if not text:
        return "the address is empty"
    check = {"modbus": _modbus_error, "s7": _s7_error, "enip": _enip_error}[protocol]
    error = check(text)
    return f"{text!r}: {error} (e.g. {EXAMPLES[protocol]})" if error else ""


def _modbus_error(text):
    parts = text.split(":")
    if len(parts) > 3:
        return "at most AREA+OFFSET, a type and a byte order, separated by ':'"
    type_name = parts[1].strip().lower() if len(parts) > 1 else None
    order = parts[2].strip().upper() if len(parts) > 2 else None
    location = _modbus_location(parts[0].strip().lower(), type_name)
    if isinstance(location, str):
        return location
    area, offset, bit = location
    length = _modbus_length(area, bit, type_name, order)
    if isinstance(length, str):
        return length
    if order is not None and order not in MODBUS_ORDERS:
        return f"unknown byte order {parts[2]!r}: one of {', '.join(MODBUS_ORDERS)}"
    if offset + length - 1 > 0xFFFF:
        return f"{length} {'bits' if area in MODBUS_BIT_AREAS else 'registers'} from {offset} run past address 65535"
    return ""


def _modbus_location(location, type_name):
    """(area, 0-based offset, bit or None) of ``AREA OFFSET [.BIT]`` or a classic number, or why not."""
    place, *bits = location.split(".")
    if len(bits) > 1:
        return "one '.' at most, before the bit number"
    classic = MODBUS_CLASSIC.match(place)
    if classic:
        number = int(classic.group(2))
        if not 1 <= number <= 65536:
            return "a classic register number runs from 1 (40001) to 65536 (465536)"
        area, offset = MODBUS_CLASSIC_AREAS[classic.group(1)], number - 1
    else:
        match = MODBUS_LOCATION.match(place)
        if not match:
            if place in MODBUS_AREAS and type_name is not None and type_name.isdigit():
                return f"write the offset right after the area, without ':' ({place}{type_name})"
            return "expected an area (hr, ir, coil, di) and a 0-based offset, or a classic 4xxxx number"
        if match.group(1) not in MODBUS_AREAS:
            return f"unknown area {match.group(1)!r}: one of hr, ir, coil, di"
        area, offset = MODBUS_AREAS[match.group(1)], int(match.group(2))
        if offset > 0xFFFF:
            return f"offset {offset} is past 65535"
    bit = bits[0] if bits else None
    if bit is not None:
        if area in MODBUS_BIT_AREAS:
            return f"area {area} is bits already: no '.bit'"
        if not re.fullmatch(r"\d{1,2}", bit) or int(bit) > 15:
            return "a register bit is 0 to 15"
    return area, offset, bit


def _modbus_length(area, bit, type_name, order):
    """How many registers (or bits) the value spans, or why the type does not fit."""
    if area in MODBUS_BIT_AREAS or bit is not None:
        if type_name is not None and type_name != "bool":
            return f"{'area ' + area if area in MODBUS_BIT_AREAS else 'a register bit'} holds a bool, not {type_name}"
        if order is not None:
            return "a bool has no byte order"
        return 1
    if not type_name:
        return 1
    if type_name.startswith("string"):
        count = type_name[len("string") :]
        if not count.isdigit() or not 1 <= int(count) <= MODBUS_MAX_STRING:
            return f"a string is string<N> with N its registers, 1 to {MODBUS_MAX_STRING} (2 bytes each)"
        return int(count)
    if type_name not in MODBUS_WORDS:
        return f"unknown type {type_name!r}: one of bool, {', '.join(MODBUS_WORDS)}, string<N>"
    return MODBUS_WORDS[type_name]


def _s7_error(text):
    text = re.sub(r"\s+", "", text.upper())
    db = S7_DB_FORM.match(text)
    if db:
        kind = S7_DB_TYPES.get(db.group(2))
        if not kind:
            return (
                f"unknown type {db.group(2)} (INT, DINT, REAL, LREAL, BYTE, WORD, DWORD, X for a bit, S for a string…)"
            )
        return _s7_build_error("DB", int(db.group(1)), kind, int(db.group(3)), db.group(4))
    step7 = S7_STEP7_DB_FORM.match(text)
    if step7:
        return _s7_build_error(
            "DB", int(step7.group(1)), S7_SIZE_LETTERS[step7.group(2)], int(step7.group(3)), step7.group(4)
        )
    area = S7_AREA_FORM.match(text)
    if area:
        letter = area.group(2)
        kind = S7_SIZE_LETTERS[letter] if letter else "BOOL" if area.group(4) is not None else None
        if not kind:
            return "a bit needs its number (M0.1), a byte/word a size letter (MB0, MW0, MD0)"
        return _s7_build_error(area.group(1), 0, kind, int(area.group(3)), area.group(4))
    if text.startswith("DB"):
        return "a data block address is DB<number>,<type><byte> (DB10,INT4) or DB<number>.DBW<byte> (DB10.DBW4)"
    return "not an S7 address: a data block (DB10,INT4) or a memory, input or output area (MW10, I0.1)"


def _s7_build_error(area, db, kind, byte, dotted):
    if area == "DB" and not 1 <= db <= S7_MAX_DB:
        return f"the DB number must be 1 to {S7_MAX_DB}"
    size = S7_SIZES.get(kind, 0)
    if kind == "BOOL":
        if dotted is None:
            return "a BOOL needs its bit: byte.bit, e.g. DB10,X0.3 or M0.1"
        if int(dotted) > 7:
            return f"bit {dotted} does not exist: bits are 0 to 7"
    elif kind in ("STRING", "WSTRING"):
        limit = 254 if kind == "STRING" else 16382
        if dotted is None:
            return f"a {kind} needs its declared length: byte.length, e.g. DB10,S20.30 for {kind}[30]"
        if not 1 <= int(dotted) <= limit:
            return f"a {kind} holds 1 to {limit} characters, not {int(dotted)}"
        size = 2 + int(dotted) if kind == "STRING" else 4 + 2 * int(dotted)
    elif dotted is not None:
        return f"a {kind} has no .{dotted} part (only BOOL bits and string lengths do)"
    if byte + size - 1 > S7_MAX_BYTE:
        return f"byte {byte} is beyond what an S7 address reaches ({S7_MAX_BYTE})"
    return ""


def _enip_error(text):
    rest = text
    if text.lower().startswith("program:"):
        program = LOGIX_PROGRAM.match(text)
        if not program:
            return "a program tag is Program:<program>.<tag>"
        error = _logix_name_error(program.group(1), "program")
        if error:
            return error
        rest = program.group(2)
    parts = rest.split(".")
    if len(parts) > 1 and parts[-1].isdigit():
        if int(parts[-1]) > 63:
            return f"bit {parts[-1]} is beyond 63 (the widest Logix integer, LINT, has bits 0 to 63)"
        parts.pop()
    for part in parts:
        if not part:
            return "an empty name between dots"
        name, bracket, indexes = part.partition("[")
        error = _logix_name_error(name, "name")
        if error:
            return error
        if not bracket:
            continue
        if not part.endswith("]"):
            return f"{part!r} has no closing ]"
        values = indexes[:-1].split(",")
        if len(values) > LOGIX_MAX_DIMENSIONS:
            return f"{part!r} has more than {LOGIX_MAX_DIMENSIONS} dimensions"
        for value in values:
            if not value.strip().isdigit() or int(value.strip()) > LOGIX_MAX_INDEX:
                return f"index {value!r} in {part!r} is not a whole number from 0 to {LOGIX_MAX_INDEX}"
    return ""


def _logix_name_error(name, what):
    if not LOGIX_NAME.match(name):
        return f"{what} {name!r} is not a Logix name (a letter or _, then letters, digits, _)"
    if len(name) > LOGIX_MAX_NAME:
        return f"{what} {name!r} is longer than {LOGIX_MAX_NAME} characters"
    return ""

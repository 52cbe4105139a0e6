"""A Logix controller simulated by cpppo's EtherNet/IP server, for the
sidecar's EtherNet/IP driver tests (issue 19).

    cpppo_logix.py [--address HOST:PORT] [--controller-slot N] [--large-forward-open no] TAG=TYPE[N] ...

TYPE is one of cpppo's own tag types (BOOL SINT USINT INT UINT DINT UDINT
LINT ULINT REAL LREAL SSTRING STRING; STRING is the CIP STRING 0xD0) or
LOGIX_STRING: the Logix STRING structure (structure handle 0x0FCE, LEN DINT +
DATA SINT[82], 88 bytes), served by cpppo's STRUCT_typed with its own UDT
encoder. cpppo joins the symbolic segments of a request path with '.', so a
tag named `Program:MainProgram.Counter` or `Line.Good` answers the same
requests a Logix program tag or UDT member does.

cpppo opens every Forward Open whatever its path. --controller-slot N is
this helper's own fault injection (not cpppo's): the Connection Manager then
refuses, as a chassis with no controller in that slot does, a Forward Open
routed to any other backplane slot (status 0x01, extended 0x0312 "link
address not valid"). --large-forward-open no refuses the Large Forward Open
(0x5B) with status 0x08, as a controller before firmware 20 does.

Once bound, prints one JSON line {"port": N}. Then it reads one JSON command
a line on stdin and answers one JSON line on stdout, acting on cpppo's own
tag store (never over the wire, so the driver under test encodes nothing of
what it reads):
    {"op": "set", "tag": "Counter", "index": 0, "value": "42"}
    {"op": "get", "tag": "Counter", "index": 0}  -> {"ok": true, "value": "42"}
Values travel as text: integers in decimal, floats as Python's float()
reads and repr() writes them (nan, inf, -0.0), booleans as "true"/"false".
"""

import json
import os
import sys
import threading

from cpppo.dotdict import dotdict
from cpppo.server.enip import device, udt
from cpppo.server.enip import main as enip_main

STRING_SIZE = 82
LOGIX_STRING_TYPE = {
    "name": "STRING",
    "attributes": ["LEN", "DATA"],
    "internal_tags": {
        "LEN": {"offset": 0, "data_type": "DINT", "tag_type": "atomic"},
        "DATA": {"offset": 4, "data_type": "SINT", "tag_type": "atomic", "array": STRING_SIZE},
    },
    "template": {"structure_handle": 0x0FCE, "structure_size": 88},
}
INTEGER_TYPES = {"SINT", "USINT", "INT", "UINT", "DINT", "UDINT", "LINT", "ULINT"}
FLOAT_TYPES = {"REAL", "LREAL"}

tag_types = {}
logix_string_codec = udt.tag_struct()


def logix_string_record(text):
    raw = text.encode("iso-8859-1")
    if len(raw) > STRING_SIZE:
        raise ValueError("a Logix STRING holds at most %d characters" % STRING_SIZE)
    data = [byte - 256 if byte > 127 else byte for byte in raw]
    encoded = logix_string_codec.produce(dotdict(LEN=len(raw), DATA=data), LOGIX_STRING_TYPE)
    return dotdict(data=dotdict(input=bytearray(encoded)))


def logix_string_text(record):
    raw = record.get("data.input") if "data" in record else record.get("input")
    parsed = logix_string_codec.parse(bytes(raw), LOGIX_STRING_TYPE)
    return bytes(byte & 0xFF for byte in parsed.DATA[: parsed.LEN]).decode("iso-8859-1")


class LogixAttribute(device.Attribute):
    """cpppo's main() builds every tag's Attribute with this class; a LOGIX_STRING tag becomes a STRUCT."""

    def __init__(self, name, type_cls, default=0, **kwds):
        if tag_types.get(name) == "LOGIX_STRING":
            count = len(default) if isinstance(default, list) else 1
            struct_type = {"data_type": LOGIX_STRING_TYPE, "dimensions": [count]}
            records = [logix_string_record("") for _ in range(count)]
            type_cls = lambda: udt.STRUCT_typed(data_type=struct_type)  # noqa: E731
            # a dotdict has a len(), so cpppo would take a scalar record for an array: serve a list
            default = records
        super().__init__(name, type_cls, default=default, **kwds)

    def __setitem__(self, key, value):
        # A Write Tag of a STRUCT reaches cpppo's Attribute as one raw {input: bytes} for the
        # whole slice; keep it as the per-record {data: {input}} that STRUCT_typed serves.
        if tag_types.get(self.name) == "LOGIX_STRING" and isinstance(key, slice) and "input" in value:
            raw = bytes(value["input"])
            size = LOGIX_STRING_TYPE["template"]["structure_size"]
            value = [dotdict(data=dotdict(input=bytearray(raw[at : at + size]))) for at in range(0, len(raw), size)]
        super().__setitem__(key, value)


def refusing_connection_manager(controller_slot, large):
    class RefusingConnectionManager(device.Connection_Manager):
        def forward_open(self, data, addr):
            if not large and data.service & 0x7F == self.FWD_OPLG_REQ:
                data.status = 0x08  # service not supported, as a controller before firmware 20
                raise AssertionError("no Large Forward Open")
            segments = data.forward_open.connection_path.segment
            port = segments[0] if segments and "port" in segments[0] else None
            if controller_slot is None:
                return super().forward_open(data, addr)
            if port is None or port["port"] != 1 or port["link"] != controller_slot:
                data.status = 0x01
                data.status_ext = {"size": 1, "data": [0x0312]}
                raise AssertionError(f"no controller in the slot of {port!r}")
            return super().forward_open(data, addr)

    return RefusingConnectionManager


def parse_value(kind, text):
    if kind == "BOOL":
        return 1 if text == "true" else 0
    if kind in INTEGER_TYPES:
        return int(text)
    if kind in FLOAT_TYPES:
        return float(text)
    if kind == "LOGIX_STRING":
        return logix_string_record(text)
    return text


def show_value(kind, value):
    if kind == "BOOL":
        return "true" if value else "false"
    if kind in FLOAT_TYPES:
        return repr(float(value))
    if kind == "LOGIX_STRING":
        return logix_string_text(value)
    return str(value)


def attribute_of(name):
    entry = dict.get(enip_main.tags, name)
    if entry is None:
        raise KeyError(f"no tag {name!r}")
    return entry.attribute


def serve_commands():
    for line in sys.stdin:
        try:
            command = json.loads(line)
            kind = tag_types[command["tag"]]
            attribute = attribute_of(command["tag"])
            index = command.get("index", 0)
            if command["op"] == "set":
                attribute[index] = parse_value(kind, command["value"])
                answer = {"ok": True}
            else:
                answer = {"ok": True, "value": show_value(kind, attribute[index])}
        except Exception as exc:  # every failure is the test's to see
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    # stdin closed: the test is gone, so is the PLC
    os._exit(0)


def announce_port():
    while True:
        # main() makes the control dict, then the server thread binds and records the address
        control = dict.get(enip_main.srv_ctl, "control")
        bound = dict.get(control, "address") if control else None
        if bound:
            sys.stdout.write(json.dumps({"port": bound[1]}) + "\n")
            sys.stdout.flush()
            threading.Thread(target=serve_commands, daemon=True).start()
            return
        threading.Event().wait(0.05)


def main(argv):
    cpppo_argv = ["--no-print", "--no-udp"]
    extra = {}
    refusals = {}
    rest = list(argv)
    while rest and rest[0].startswith("--"):
        option, value = rest.pop(0), rest.pop(0)
        if option == "--controller-slot":
            refusals["controller_slot"] = int(value)
        elif option == "--large-forward-open":
            refusals["large"] = value == "yes"
        else:
            cpppo_argv += [option, value]
    if refusals:
        extra["connection_manager_class"] = refusing_connection_manager(
            refusals.get("controller_slot"), refusals.get("large", True)
        )
    for spec in rest:
        name, _, kind = spec.partition("=")
        base = kind.split("[", 1)[0].upper()
        tag_types[name] = base
        # cpppo's own parser sizes the tag; LOGIX_STRING borrows DINT's slot and LogixAttribute swaps it
        cpppo_argv.append(spec.replace(kind.split("[", 1)[0], "DINT") if base == "LOGIX_STRING" else spec)
    threading.Thread(target=announce_port, daemon=True).start()
    return enip_main.main(argv=cpppo_argv, attribute_class=LogixAttribute, **extra)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

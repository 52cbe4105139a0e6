"""python-snap7's S7 server (snap7.server.Server) as a test peer (issue 19).

The S7 protocol side is python-snap7's; this script only registers the
memory areas a test asks for and lets the test read and write their bytes
behind the server's back, as a PLC program would.

    s7_server.py PORT [--wait] AREA:INDEX:SIZE ...     e.g. 10102 DB:10:256 MK:0:64

AREA is DB, MK (merkers, M), PE (inputs, I) or PA (outputs, Q). Prints
"ready PORT" once listening (PORT 0 picks a free one), then answers one line
per control line on stdin (with --wait it prints "waiting" and listens only
at "listen", answering "ready PORT" then, so the areas can be filled first):

    set AREA INDEX START HEX                -> ok          (writes bytes)
    get AREA INDEX START SIZE               -> ok HEX      (reads bytes)
    put TYPE AREA INDEX START EXTRA JSON    -> ok          (writes a value)
    take TYPE AREA INDEX START EXTRA        -> ok JSON     (reads a value)
    stop                                    -> (exits)

put and take encode values with python-snap7's own snap7.util setters and
getters, so the bytes a test compares are laid out by code nobody on this
project wrote. EXTRA is the bit of a BOOL, the declared length of a STRING or
WSTRING, 0 otherwise. JSON carries booleans and strings as themselves,
integers as decimal strings (64-bit safe), REAL/LREAL as the hex of an
IEEE 754 double, big-endian (NaN and infinities included).

A failing command answers "error MESSAGE". Closing stdin stops the server.
"""

import json
import logging
import struct
import sys

from snap7.server import Server
from snap7.type import SrvArea
from snap7.util import getters, setters

AREAS = {"DB": SrvArea.DB, "MK": SrvArea.MK, "PE": SrvArea.PE, "PA": SrvArea.PA}
INTEGERS = {
    "BYTE": "byte",
    "SINT": "sint",
    "INT": "int",
    "WORD": "word",
    "UINT": "uint",
    "DINT": "dint",
    "DWORD": "dword",
    "UDINT": "udint",
    "LINT": "lint",
    "ULINT": "ulint",
}
REALS = {"REAL": "real", "LREAL": "lreal"}


def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)
    port = int(sys.argv[1])
    specs = sys.argv[2:]
    # --wait: take set/put commands before listening (a PLC whose retentive
    # DBs hold their values when it comes back), until "listen".
    waiting = "--wait" in specs
    memory: dict[tuple[str, int], bytearray] = {}
    server = Server(log=False)
    for spec in specs:
        if spec == "--wait":
            continue
        area, index, size = spec.split(":")
        data = bytearray(int(size))
        memory[(area, int(index))] = data
        server.register_area(AREAS[area], int(index), data)

    def listen() -> str:
        server.start(tcp_port=port)
        bound = server.server_socket.getsockname()[1] if server.server_socket else port
        return f"ready {bound}"

    print("waiting" if waiting else listen(), flush=True)
    try:
        for line in sys.stdin:
            # Single spaces only, and at most 7 words: put's JSON, the last, may hold any whitespace.
            words = line.rstrip("\n").split(" ", 6)
            if words == [""]:
                continue
            if words[0] == "stop":
                break
            try:
                if words[0] == "listen" and waiting:
                    waiting = False
                    print(listen(), flush=True)
                else:
                    print(answer(memory, words), flush=True)
            except (KeyError, ValueError, IndexError, TypeError, struct.error) as err:
                print(f"error {err!r}", flush=True)
    finally:
        server.stop()


def answer(memory: dict[tuple[str, int], bytearray], words: list[str]) -> str:
    if words[0] in ("put", "take"):
        return typed(memory, words)
    command, area, index, start = words[0], words[1], int(words[2]), int(words[3])
    data = memory[(area, index)]
    if command == "set":
        payload = bytes.fromhex(words[4])
        if start + len(payload) > len(data):
            raise ValueError(f"{area}{index} has {len(data)} bytes")
        # In place: the server holds this very bytearray.
        data[start : start + len(payload)] = payload
        return "ok"
    if command == "get":
        size = int(words[4])
        if start + size > len(data):
            raise ValueError(f"{area}{index} has {len(data)} bytes")
        return "ok " + bytes(data[start : start + size]).hex()
    raise ValueError(f"unknown command {command}")


def typed(memory: dict[tuple[str, int], bytearray], words: list[str]) -> str:
    command, kind, area, index, start, extra = words[0], words[1], words[2], int(words[3]), int(words[4]), int(words[5])
    data = memory[(area, index)]
    if command == "put":
        value = json.loads(words[6])
        if kind == "BOOL":
            setters.set_bool(data, start, extra, value)
        elif kind in INTEGERS:
            getattr(setters, "set_" + INTEGERS[kind])(data, start, int(value))
        elif kind in REALS:
            getattr(setters, "set_" + REALS[kind])(data, start, struct.unpack(">d", bytes.fromhex(value))[0])
        elif kind == "CHAR":
            setters.set_char(data, start, value)
        elif kind == "STRING":
            setters.set_string(data, start, value, extra)
        elif kind == "WSTRING":
            setters.set_wstring(data, start, value, extra)
        else:
            raise ValueError(f"unknown type {kind}")
        return "ok"
    if kind == "BOOL":
        result: object = getters.get_bool(data, start, extra)
    elif kind in INTEGERS:
        result = str(getattr(getters, "get_" + INTEGERS[kind])(data, start))
    elif kind in REALS:
        result = struct.pack(">d", getattr(getters, "get_" + REALS[kind])(data, start)).hex()
    elif kind == "CHAR":
        result = getters.get_char(data, start)
    elif kind == "STRING":
        result = getters.get_string(data, start)
    elif kind == "WSTRING":
        result = getters.get_wstring(data, start)
    else:
        raise ValueError(f"unknown type {kind}")
    return "ok " + json.dumps(result)


if __name__ == "__main__":
    main()

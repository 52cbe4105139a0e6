"""A Modbus TCP server for the sidecar's tests: pymodbus's server (not the
project's code) with four separate areas (coils, discrete inputs, holding and
input registers), each `--size` addresses from 0, optional holes that answer
"illegal data address", and a command channel on stdin so a test can act as
the PLC's program (writing input registers and discrete inputs, which no
Modbus client can write).

Commands, one JSON object a line; each gets one JSON line back:
  {"op": "put", "area": "hr", "offset": 10, "type": "float32", "order": "CDAB", "value": "1.5"}
      encodes the value with pymodbus's convert_to_registers (word order) and
      swaps the bytes of each register for BADC/DCBA; 64-bit integers and
      floats travel as text so nothing is rounded on the way.
  {"op": "get", "area": "hr", "offset": 10, "type": "int32", "order": "ABCD"}
      decodes with pymodbus's convert_from_registers; answers {"value": text}.
  {"op": "set", "area": "hr", "offset": 10, "words": [1, 2]}   raw registers
  {"op": "set", "area": "coil", "offset": 3, "bits": [true, false]}
  {"op": "words", "area": "hr", "offset": 10, "count": 2}       raw registers back

With `--state FILE`, what the commands set is the PLC's retentive memory:
saved before each answer and loaded before the server answers its first
request, so a server killed and started again serves the values it had (as a
PLC's retentive counters do), never zeros first.

Prints `READY <port>` once the server answers on its port.
"""

import argparse
import asyncio
import json
import math
import os
import socket
import struct
import sys

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

AREAS = {"coil": "c", "di": "d", "hr": "h", "ir": "i"}
DATATYPES = {
    "int16": ModbusClientMixin.DATATYPE.INT16,
    "uint16": ModbusClientMixin.DATATYPE.UINT16,
    "int32": ModbusClientMixin.DATATYPE.INT32,
    "uint32": ModbusClientMixin.DATATYPE.UINT32,
    "int64": ModbusClientMixin.DATATYPE.INT64,
    "uint64": ModbusClientMixin.DATATYPE.UINT64,
    "float32": ModbusClientMixin.DATATYPE.FLOAT32,
    "float64": ModbusClientMixin.DATATYPE.FLOAT64,
}
FLOATS = {"float32", "float64"}

# The live register lists of each block, as pymodbus's device action hands them over.
blocks = {}
memory = {"words": {}, "bits": {}}


def block_of(function_code):
    return {1: "c", 5: "c", 15: "c", 2: "d", 3: "h", 6: "h", 16: "h", 22: "h", 23: "h", 4: "i"}[function_code]


async def device_action(function_code, start_address, address, count, registers, set_values):
    blocks.setdefault(block_of(function_code), (start_address, registers))
    return None


def parse_holes(specs):
    holes = {area: [] for area in AREAS}
    for spec in specs or []:
        area, _, span = spec.partition(":")
        first, _, last = span.partition("-")
        holes[area].append((int(first), int(last or first)))
    return holes


def simdata(area, initial, holes):
    """The area's addresses as SimData runs with their initial values, holes left out (they answer illegal address)."""
    if area in ("coil", "di"):
        # pymodbus marks only the ends of a bit area invalid (holes inside read as False),
        # and counts a bit run's `count` twice: one run, its bits given as a list.
        if holes[area]:
            raise ValueError("holes are for register areas (hr, ir)")
        return [SimData(0, values=[bool(bit) for bit in initial], datatype=DataType.BITS)]
    runs, start = [], 0
    for first, last in sorted(holes[area]) + [(len(initial), len(initial))]:
        if first > start:
            runs.append(SimData(start, values=initial[start:first], datatype=DataType.REGISTERS))
        start = max(start, last + 1)
    return runs


def initial_values(size, path):
    """Every area's values at start: zeros, or the retentive memory saved by an earlier run."""
    initial = {area: [0] * size for area in AREAS}
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as handle_:
            saved = json.load(handle_)
        memory.update(saved)
        for kind in ("words", "bits"):
            for key, value in saved[kind].items():
                area, _, offset = key.partition(":")
                initial[area][int(offset)] = int(value)
    return initial


def set_words(area, offset, words):
    start, registers = blocks[AREAS[area]]
    for index, word in enumerate(words):
        if not 0 <= word <= 0xFFFF:
            raise ValueError(f"{word} is not a 16-bit register value")
        registers[offset + index - start] = word
    memory["words"].update({f"{area}:{offset + i}": w for i, w in enumerate(words)})


def set_bits(area, offset, bits):
    start, registers = blocks[AREAS[area]]
    for index, bit in enumerate(bits):
        address = offset + index
        register = address // 16 - start
        mask = 1 << (address % 16)
        registers[register] = (registers[register] | mask) if bit else (registers[register] & ~mask)
    memory["bits"].update({f"{area}:{offset + i}": bool(b) for i, b in enumerate(bits)})


def get_words(area, offset, count):
    start, registers = blocks[AREAS[area]]
    return [registers[offset + i - start] for i in range(count)]


def swap_bytes(words):
    return [((w & 0xFF) << 8) | (w >> 8) for w in words]


def encode(kind, order, text, length):
    if kind.startswith("string"):
        raw = text.encode("utf-8")
        if len(raw) > 2 * length:
            raise ValueError(f"{len(raw)} bytes do not fit in {length} registers")
        raw = raw.ljust(2 * length, b"\0")
        words = [struct.unpack(">H", raw[i : i + 2])[0] for i in range(0, len(raw), 2)]
        return swap_bytes(words) if order in ("BADC", "DCBA") else words
    value = float(text) if kind in FLOATS else int(text)
    word_order = "little" if order in ("CDAB", "DCBA") else "big"
    words = ModbusClientMixin.convert_to_registers(value, DATATYPES[kind], word_order=word_order)
    return swap_bytes(words) if order in ("BADC", "DCBA") else words


def decode(kind, order, words):
    if order in ("BADC", "DCBA"):
        words = swap_bytes(words)
    if kind.startswith("string"):
        raw = b"".join(struct.pack(">H", w) for w in words)
        return raw.split(b"\0", 1)[0].decode("utf-8")
    word_order = "little" if order in ("CDAB", "DCBA") else "big"
    value = ModbusClientMixin.convert_from_registers(words, DATATYPES[kind], word_order=word_order)
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else repr(value)
    return str(value)


def size_of(kind):
    if kind.startswith("string"):
        return int(kind[len("string") :])
    return {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}.get(kind, 4)


def handle(command):
    op, area, offset = command["op"], command["area"], int(command["offset"])
    if area not in AREAS:
        raise ValueError(f"no area {area!r}")
    if op == "set" and "words" in command:
        set_words(area, offset, [int(w) for w in command["words"]])
        return {}
    if op == "set":
        set_bits(area, offset, [bool(b) for b in command["bits"]])
        return {}
    if op == "words":
        return {"words": get_words(area, offset, int(command["count"]))}
    kind, order = command["type"], command.get("order", "ABCD")
    if op == "put":
        set_words(area, offset, encode(kind, order, str(command["value"]), size_of(kind)))
        return {}
    if op == "get":
        return {"value": decode(kind, order, get_words(area, offset, size_of(kind)))}
    raise ValueError(f"no op {op!r}")


def save(path):
    if not path:
        return
    with open(path + ".tmp", "w", encoding="utf-8") as handle_:
        json.dump(memory, handle_)
    os.replace(path + ".tmp", path)


def free_port(host):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def touch_every_area(host, port):
    """Reads each area once so the device action hands over its live registers."""
    client = AsyncModbusTcpClient(host, port=port, timeout=2)
    for _ in range(100):
        if await client.connect():
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"the server did not answer on {host}:{port}")
    await client.read_coils(0, count=1)
    await client.read_discrete_inputs(0, count=1)
    await client.read_holding_registers(0, count=1)
    await client.read_input_registers(0, count=1)
    client.close()


async def serve_stdin(state):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            answer = {"ok": True, **handle(json.loads(line))}
            save(state)
        except Exception as err:  # noqa: BLE001 - every bad command gets its reason back
            answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--hole", action="append", help="area:first-last answering illegal address")
    parser.add_argument("--state", default="")
    args = parser.parse_args()
    port = args.port or free_port(args.host)
    holes = parse_holes(args.hole)
    # Restored before the server answers: a PLC with retentive memory never shows zeros first.
    initial = initial_values(args.size, args.state)
    device = SimDevice(
        id=0,
        simdata=tuple(simdata(area, initial[area], holes) for area in ("coil", "di", "hr", "ir")),
        action=device_action,
    )
    server = ModbusTcpServer(device, address=(args.host, port))
    serving = asyncio.create_task(server.serve_forever())
    await touch_every_area(args.host, port)
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    await serve_stdin(args.state)
    await server.shutdown()
    serving.cancel()


if __name__ == "__main__":
    asyncio.run(main())

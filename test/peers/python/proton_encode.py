"""Encodes AMQP 1.0 values with Qpid Proton's codec (python-qpid-proton), an
AMQP 1.0 encoder nobody here wrote, for the AMQP source's decoder tests.

Usage: proton_encode.py

Prints one JSON line per catalogue entry: {"name": ..., "hex": ...}, the
value as proton's Data encodes it (constructor and all). The catalogue holds
every primitive type of AMQP 1.0 part 1.6, at its edges, and the compound
ones: list, map, array (plain and described) and a described value.
"""

import json
import uuid

from proton import (
    UNDESCRIBED,
    Array,
    Data,
    Described,
    byte,
    char,
    decimal32,
    decimal64,
    decimal128,
    float32,
    int32,
    short,
    symbol,
    timestamp,
    ubyte,
    uint,
    ulong,
    ushort,
)

CATALOGUE = [
    ("null", None),
    ("true", True),
    ("false", False),
    ("ubyte", ubyte(255)),
    ("ushort", ushort(65535)),
    ("uint_small", uint(7)),
    ("uint_zero", uint(0)),
    ("uint_max", uint(4294967295)),
    ("ulong_small", ulong(200)),
    ("ulong_zero", ulong(0)),
    ("ulong_max", ulong(18446744073709551615)),
    ("byte", byte(-128)),
    ("short", short(-32768)),
    ("int_small", int32(-5)),
    ("int_min", int32(-2147483648)),
    ("long_small", -100),
    ("long_min", -9223372036854775808),
    ("long_big", 9007199254740993),
    ("float", float32(1.5)),
    ("double", -0.1),
    ("double_inf", float("inf")),
    ("decimal32_one", decimal32(0x32800001)),
    ("decimal32_tenth", decimal32(0x32000001)),
    ("decimal32_max_coefficient", decimal32(0x6CB8967F)),
    ("decimal32_negative", decimal32(0xB280000F)),
    ("decimal64_one_fifty", decimal64(0x31A0000000000096)),
    ("decimal128_one", decimal128(bytes.fromhex("30400000000000000000000000000001"))),
    ("decimal64_nan", decimal64(0x7C00000000000000)),
    ("char", char("\U0001f600")),
    ("timestamp", timestamp(1764738000123)),
    ("timestamp_before_1970", timestamp(-86400000)),
    ("uuid", uuid.UUID("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")),
    ("binary", b"\x00\xff\x80"),
    ("binary_large", bytes(300)),
    ("string", "Presse-Öl 1"),
    ("string_large", "x" * 300),
    ("symbol", symbol("amqp:accepted")),
    ("list_empty", []),
    ("list", [1, "a", None, [True]]),
    ("map", {"quantity": 3, "wo": "WO-1", symbol("sym"): 2.5}),
    ("map_large", {f"k{i}": i for i in range(40)}),
    ("array_int", Array(UNDESCRIBED, Data.INT, 1, -2, 3)),
    ("array_string", Array(UNDESCRIBED, Data.STRING, "a", "bc")),
    ("array_described", Array(symbol("x:y"), Data.LONG, 1, 2)),
    ("described", Described(symbol("com.example:reading"), {"v": 1})),
    ("described_by_code", Described(ulong(0x0000_4D45_0000_0001), "x")),
]


def main():
    for name, value in CATALOGUE:
        data = Data()
        data.put_object(value)
        print(json.dumps({"name": name, "hex": data.encode().hex()}))


if __name__ == "__main__":
    main()

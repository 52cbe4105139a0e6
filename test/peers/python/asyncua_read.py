"""Reads OPC UA variables with asyncua's own client, so a test can check what
the sidecar wrote without trusting the sidecar's (node-opcua) stack.

    python asyncua_read.py ENDPOINT [--user NAME:PASSWORD] NODE_ID...

Prints one JSON object: {node id: {"value": ..., "type": variant type name,
"status": status code name}}; bytes as base64, times as ISO text.
"""

import asyncio
import base64
import datetime
import json
import sys

from asyncua import Client, ua


def plain(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, ua.LocalizedText):
        return value.Text
    return value


async def main(argv):
    endpoint, rest = argv[0], argv[1:]
    client = Client(endpoint, timeout=10)
    if rest and rest[0] == "--user":
        name, _, password = rest[1].partition(":")
        client.set_user(name)
        client.set_password(password)
        rest = rest[2:]
    async with client:
        nodes = [client.get_node(node_id) for node_id in rest]
        values = await client.read_attributes(nodes, ua.AttributeIds.Value)
        out = {
            node_id: {
                "value": plain(dv.Value.Value if dv.Value else None),
                "type": dv.Value.VariantType.name if dv.Value else "Null",
                "status": dv.StatusCode.name,
            }
            for node_id, dv in zip(rest, values, strict=False)
        }
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

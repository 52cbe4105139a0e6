"""Reads tags over the wire with cpppo's own EtherNet/IP client (not the
sidecar's driver), to check what the driver wrote:

    cpppo_read.py HOST:PORT TAG=TYPE ...

TYPE is the tag's type as cpppo_logix.py serves it; prints one JSON object
{TAG: value-as-text}, in cpppo_logix.py's text form.
"""

import json
import sys

from cpppo.server.enip import client
from cpppo_logix import logix_string_text, show_value


def main(argv):
    host, _, port = argv[0].partition(":")
    kinds = dict(spec.partition("=")[::2] for spec in argv[1:])
    values = {}
    with client.connector(host=host, port=int(port)) as connection:
        operations = client.parse_operations(list(kinds))
        for index, _, _, _, _, value in connection.pipeline(operations=operations, depth=1):
            tag = list(kinds)[index]
            kind = kinds[tag].upper()
            if value is None or value is True:
                values[tag] = {"error": "cpppo's client got no value"}
            elif kind == "LOGIX_STRING":
                values[tag] = logix_string_text({"input": value["input"]})
            else:
                values[tag] = show_value(kind, value[0])
    sys.stdout.write(json.dumps(values) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Posts CloudEvents to an HTTP endpoint as the CloudEvents Python SDK encodes
them (cloudevents.core.bindings.http, the JSON event format), with the
standard library's HTTP client: a producer nobody here wrote, for the HTTP
intake's tests.

Usage: ce_http_post.py URL TOKEN < events.jsonl

One JSON object per line: {"attributes": {...}, "data": ..., "mode": "binary" |
"structured"}; a `time` attribute is ISO 8601 text. Prints one JSON line per
request: {"status": ..., "body": ...}.
"""

import json
import sys
import urllib.error
import urllib.request

from cloudevents.core.bindings import http
from sdk_encode import sdk_encoded


def main():
    url, token = sys.argv[1], sys.argv[2]
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        encoded = sdk_encoded(http, message["attributes"], message.get("data"), message.get("mode"))
        headers = dict(encoded.headers)
        headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=encoded.body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, body = answer.status, answer.read().decode("utf-8")
        except urllib.error.HTTPError as refused:
            status, body = refused.code, refused.read().decode("utf-8")
        print(json.dumps({"status": status, "body": json.loads(body)}))


if __name__ == "__main__":
    main()

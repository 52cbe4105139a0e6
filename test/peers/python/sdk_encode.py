"""A CloudEvent encoded by one of the CloudEvents Python SDK's protocol
bindings, for the peers that send what the SDK writes (pika_publish.py,
ce_http_post.py)."""

import datetime

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent


def sdk_encoded(binding, attributes, data, mode):
    """What `binding` (a cloudevents.core.bindings module) makes of the event:
    its binary mode, or its structured mode when `mode` is "structured", in the
    JSON event format. A `time` attribute is ISO 8601 text."""
    attributes = dict(attributes)
    if "time" in attributes:
        attributes["time"] = datetime.datetime.fromisoformat(attributes["time"])
    event = CloudEvent(attributes=attributes, data=data)
    encode = binding.to_structured if mode == "structured" else binding.to_binary
    return encode(event, JSONFormat())

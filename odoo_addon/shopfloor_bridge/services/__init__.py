"""The inbox's services, apart from its storage (``models/shopfloor_event.py``).

As OCA queue_job keeps the job's lifecycle in ``job.py`` beside
``models/queue_job.py``: ``ingest.py`` validates and stores a batch,
``apply.py`` applies stored events, ``hooks/`` lists what else ingest, apply
and discard do. Plain Python classes taking ``env``; the model's RPC entry
points check the caller and delegate to them.
"""

from . import apply, hooks, ingest

"""Retry delays for failed and pending events, pure Python.

Exponential with "full jitter" (AWS architecture blog): the delay for attempt
n is a uniform draw in [base·2^(n-1) / 2, base·2^(n-1)], capped. Half the
window is kept as a floor so a burst of failures spreads out but never
retries immediately.
"""

import random
from datetime import timedelta

BASE_SECONDS = 30
CAP_SECONDS = 3600


def backoff_seconds(attempt, base=BASE_SECONDS, cap=CAP_SECONDS, rand=random.random):
    """Seconds to wait before retry number ``attempt`` (1 = the first retry)."""
    attempt = max(1, int(attempt))
    # 2**62 would overflow nothing in Python, but keep the exponent bounded anyway.
    ceiling = min(cap, base * (2 ** min(attempt - 1, 30)))
    return ceiling / 2 + rand() * ceiling / 2


def next_retry_at(now, attempt, base=BASE_SECONDS, cap=CAP_SECONDS, rand=random.random):
    return now + timedelta(seconds=backoff_seconds(attempt, base, cap, rand))

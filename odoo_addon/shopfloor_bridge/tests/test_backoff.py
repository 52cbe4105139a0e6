from datetime import datetime, timedelta

from odoo.tests.common import BaseCase, tagged

from ..backoff import BASE_SECONDS, CAP_SECONDS, backoff_seconds, next_retry_at


@tagged("post_install", "-at_install")
class TestBackoff(BaseCase):
    def test_grows_exponentially_between_half_and_full_window(self):
        for attempt in range(1, 7):
            window = BASE_SECONDS * 2 ** (attempt - 1)
            self.assertEqual(backoff_seconds(attempt, rand=lambda: 0.0), window / 2)
            self.assertEqual(backoff_seconds(attempt, rand=lambda: 1.0), window)

    def test_capped(self):
        self.assertEqual(backoff_seconds(50, rand=lambda: 1.0), CAP_SECONDS)
        self.assertEqual(backoff_seconds(10**6, rand=lambda: 0.0), CAP_SECONDS / 2)
        self.assertEqual(backoff_seconds(20, cap=300, rand=lambda: 1.0), 300)

    def test_jitter_spreads_retries(self):
        delays = {round(backoff_seconds(4), 3) for _ in range(50)}
        self.assertGreater(len(delays), 10)
        self.assertTrue(all(BASE_SECONDS * 4 <= d <= BASE_SECONDS * 8 for d in delays), delays)

    def test_first_attempt_never_immediate(self):
        self.assertGreaterEqual(backoff_seconds(0, rand=lambda: 0.0), BASE_SECONDS / 2)
        self.assertGreaterEqual(backoff_seconds(-3, rand=lambda: 0.0), BASE_SECONDS / 2)

    def test_next_retry_at(self):
        now = datetime(2026, 11, 22, 8, 0, 0)
        self.assertEqual(next_retry_at(now, 2, rand=lambda: 1.0), now + timedelta(seconds=BASE_SECONDS * 2))

"""Fixed facts of the demo: the company, its domain, the demo's "today"."""

from __future__ import annotations

from datetime import date

from .timeutil import day_of

DEMO_AS_OF = date(2026, 11, 1)
DEMO_COMPANY_DOMAIN = "northpeak.io"
COMPANY_DOMAIN = DEMO_COMPANY_DOMAIN
COMPANY_NAME = "Northpeak"
HISTORY_START = date(2023, 11, 1)  # three years before DEMO_AS_OF
AS_OF_DAY = day_of(DEMO_AS_OF)
HISTORY_START_DAY = day_of(HISTORY_START)
GENERATOR_VERSION = "1.0.0"
CURRENCY = "USD"

"""Licensing tests talk to the session's localstripe (tests/conftest.py: `stripe_gateway`)."""
from __future__ import annotations

from tests.conftest import card_token  # noqa: F401  (tests.licensing.helpers imports it from here)

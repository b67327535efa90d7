"""JSON API: a contributor's consents, and platforms importing consent they collected."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("consent_api", __name__, description="Consent")

"""JSON API: claim codes (platforms), claiming and linking identities (contributors)."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("claims_api", __name__, description="Claim codes and contributor identities")

"""JSON API: the contributor's statement."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("statement_api", __name__, description="Contributor statements")

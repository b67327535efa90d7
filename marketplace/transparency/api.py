"""JSON API: a dataset's transparency report and the platform's report."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("transparency_api", __name__, description="Transparency reports")

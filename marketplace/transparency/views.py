"""Web pages: a dataset's public transparency report and the platform's report."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transparency", __name__)

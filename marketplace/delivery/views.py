"""Web pages of delivery (filled below)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("delivery", __name__)

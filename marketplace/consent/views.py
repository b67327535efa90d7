"""Web pages: the contributor's consent page and erasure."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("consent", __name__)

"""Web pages: claiming an identity, linking more, and the platform's contributors and codes."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("claims", __name__)

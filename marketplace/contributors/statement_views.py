"""Web pages: the contributor's statement, its CSV and the ledger entries behind each line."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("statement", __name__)

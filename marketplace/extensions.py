"""Extension singletons, bound to the app in `create_app`."""
from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from marketplace.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

# Rate limits, per client address unless said otherwise. The storage is RATELIMIT_STORAGE_URI
# (marketplace/config.py): Redis when configured, so that every worker process counts together.
#: Log-in attempts from one address (the web form).
LOGIN_PER_ADDRESS = "10 per minute"
#: Failed log-ins of one account, from any address: a guesser spread over many addresses is
#: stopped too. Successes don't count, and a browser the person logged in from before is not
#: held to it (accounts/devices.py), so failures sent by somebody else lock out only browsers
#: the person never used, and only while they keep coming.
LOGIN_FAILURES_PER_ACCOUNT = "10 per 15 minutes"
#: New organizations (web and API sign-up).
SIGNUPS = "20 per hour"
#: Claim-code attempts (claiming, linking another identity).
CLAIMS = "10 per minute"
#: Signed download links made, and exports fetched.
DOWNLOADS = "60 per hour"
#: Payout-account changes (each may create an account at the payment processor).
PAYOUT_ACCOUNT_CHANGES = "10 per hour"
api = Api()

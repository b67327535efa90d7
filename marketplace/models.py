"""Every domain's models, imported together so the metadata (and Alembic) sees them all."""
from marketplace.accounts.models import ApiKey, Organization, User  # noqa: F401
from marketplace.allocation.models import Allocation  # noqa: F401
from marketplace.catalog.models import (  # noqa: F401
    Contributor,
    Dataset,
    DatasetLanguage,
    DatasetVersion,
    Offer,
    OfferScope,
    Record,
    VersionContributor,
)
from marketplace.consent.models import Consent  # noqa: F401
from marketplace.contributors.models import ClaimCode, ErasureRequest  # noqa: F401
from marketplace.delivery.models import Download, WithdrawalAck  # noqa: F401,E402
from marketplace.ledger.models import (  # noqa: F401
    LedgerCheck,
    LedgerEntry,
    LedgerSeal,
    LedgerTransaction,
)
from marketplace.licensing.models import License, LicenseTransition, LicenseVersion  # noqa: F401
from marketplace.payments.models import Dispute, Payment, Refund, WebhookEvent  # noqa: F401
from marketplace.payouts.models import Payout, PayoutAccount, PayoutResult, PayoutRun  # noqa: F401
from marketplace.pii.models import PiiFinding, VersionPiiReport  # noqa: F401

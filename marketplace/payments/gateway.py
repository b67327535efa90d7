"""What Dividend needs from the card processor, and its Stripe implementation.

The same code talks to real Stripe and to localstripe (development and tests):
only the API base and keys differ. Every call carries our own idempotency key
derived from what it does; localstripe ignores the header, so the callers'
own guards (unique payment intent ids, the webhook inbox) must hold without it.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

import orjson
import stripe

#: Stripe's default tolerance: signatures older (or newer) than this are refused.
SIGNATURE_TOLERANCE = 300


class GatewayError(Exception):
    """The processor refused or failed a call; `message` is safe to show."""


@dataclass(frozen=True)
class CreatedIntent:
    id: str
    client_secret: str
    status: str


@dataclass(frozen=True)
class ConfirmedIntent:
    id: str
    status: str
    charge_id: str | None
    failure_message: str | None


@dataclass(frozen=True)
class CreatedRefund:
    id: str
    amount: int


class TransferRefused(GatewayError):
    """The processor definitively refused a transfer (a 4xx other than a conflict or rate
    limit): retrying with the same key would be refused again."""


@dataclass(frozen=True)
class CreatedTransfer:
    id: str
    amount: int
    currency: str
    destination: str


@dataclass(frozen=True)
class ProcessorTransfer:
    """A transfer as the processor lists it (reconciliation)."""

    id: str
    amount: int
    amount_reversed: int
    currency: str
    destination: str
    metadata: dict


class PaymentGateway(Protocol):
    def create_intent(self, *, amount: int, currency: str, metadata: dict[str, str],
                      idempotency_key: str) -> CreatedIntent: ...

    def confirm_with_card_token(self, intent_id: str, token: str, *,
                                idempotency_key: str) -> ConfirmedIntent: ...

    def refund(self, *, payment_intent_id: str, amount: int, idempotency_key: str,
               metadata: dict[str, str]) -> CreatedRefund: ...

    # Stripe Connect (payouts).
    def create_connected_account(self, *, email: str | None, metadata: dict[str, str],
                                 idempotency_key: str) -> str: ...

    def create_account_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str: ...

    def create_transfer(self, *, amount: int, currency: str, destination: str, transfer_group: str,
                        metadata: dict[str, str], idempotency_key: str) -> CreatedTransfer: ...

    def list_transfers(self, transfer_group: str | None = None) -> list[ProcessorTransfer]: ...


class StripeGateway:
    def __init__(self, secret_key: str, api_base: str | None = None, *,
                 http_client: stripe.HTTPClient | None = None, max_network_retries: int = 2):
        base = {"api": api_base.rstrip("/")} if api_base else None
        self.client = stripe.StripeClient(secret_key, base_addresses=base, http_client=http_client,
                                          max_network_retries=max_network_retries)

    def create_intent(self, *, amount, currency, metadata, idempotency_key) -> CreatedIntent:
        try:
            intent = self.client.v1.payment_intents.create(
                params={"amount": amount, "currency": currency, "metadata": metadata,
                        "capture_method": "automatic"},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        return CreatedIntent(id=intent.id, client_secret=intent.client_secret, status=intent.status)

    def confirm_with_card_token(self, intent_id, token, *, idempotency_key) -> ConfirmedIntent:
        """Attach the card a browser tokenized (Stripe.js createToken) and confirm.

        This is the path both real Stripe and localstripe support for a card
        collected with the Card Element and confirmed on the server.
        """
        try:
            intent = self.client.v1.payment_intents.retrieve(intent_id)
            if intent.status in ("requires_payment_method", "requires_confirmation"):
                token_obj = self.client.v1.tokens.retrieve(token)
                card_id = token_obj.card.id
                self.client.v1.payment_intents.update(
                    intent_id, params={"payment_method": card_id},
                    options={"idempotency_key": f"{idempotency_key}:attach"},
                )
                intent = self.client.v1.payment_intents.confirm(
                    intent_id, options={"idempotency_key": f"{idempotency_key}:confirm"}
                )
        except stripe.CardError as error:
            return ConfirmedIntent(id=intent_id, status="requires_payment_method", charge_id=None,
                                   failure_message=_message(error))
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        data = intent.to_dict()
        charge = data.get("latest_charge")
        charge_id = charge if isinstance(charge, str) else (charge or {}).get("id")
        failure = (data.get("last_payment_error") or {}).get("message")
        return ConfirmedIntent(id=intent.id, status=intent.status, charge_id=charge_id,
                               failure_message=failure)

    def refund(self, *, payment_intent_id, amount, idempotency_key, metadata) -> CreatedRefund:
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        return CreatedRefund(id=refund.id, amount=refund.amount)


    # ---- Stripe Connect: Express accounts and transfers (payouts) ----------------------

    def create_connected_account(self, *, email, metadata, idempotency_key) -> str:
        """An Express connected account that can receive transfers; returns its id (acct_…)."""
        params = {"type": "express", "capabilities": {"transfers": {"requested": True}},
                  "metadata": metadata}
        if email:
            params["email"] = email
        try:
            account = self.client.v1.accounts.create(params=params,
                                                     options={"idempotency_key": idempotency_key})
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        return account.id

    def create_account_link(self, account_id, *, refresh_url, return_url) -> str:
        """A one-time onboarding URL for the account (links expire: a new one each time)."""
        try:
            link = self.client.v1.account_links.create(params={
                "account": account_id, "refresh_url": refresh_url, "return_url": return_url,
                "type": "account_onboarding"})
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        return link.url

    def create_transfer(self, *, amount, currency, destination, transfer_group, metadata,
                        idempotency_key) -> CreatedTransfer:
        """Move `amount` from the platform's balance to the connected account.

        The same key replays Stripe's first answer (success or refusal) for 24 hours.
        :raise TransferRefused: a definitive refusal (invalid request, permission, auth).
        :raise GatewayError: a timeout, a connection error, a 5xx, a rate limit or a
            conflict: the outcome is unknown and the call must be retried with the same key.
        """
        try:
            transfer = self.client.v1.transfers.create(
                params={"amount": amount, "currency": currency, "destination": destination,
                        "transfer_group": transfer_group, "metadata": metadata},
                options={"idempotency_key": idempotency_key})
        except (stripe.InvalidRequestError, stripe.PermissionError, stripe.AuthenticationError,
                stripe.CardError) as error:
            if getattr(error, "http_status", None) in (409, 429):
                raise GatewayError(_message(error)) from error
            raise TransferRefused(_message(error)) from error
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        return CreatedTransfer(id=transfer.id, amount=transfer.amount, currency=transfer.currency,
                               destination=_id_of(transfer.destination))

    def list_transfers(self, transfer_group: str | None = None) -> list[ProcessorTransfer]:
        """Every transfer of the platform (of one transfer group, if given), newest first
        (auto-paging, 100 a page). :raise GatewayError: Stripe failed."""
        params: dict = {"limit": 100}
        if transfer_group:
            params["transfer_group"] = transfer_group
        try:
            page = self.client.v1.transfers.list(params=params)
            found = [ProcessorTransfer(
                id=transfer.id, amount=transfer.amount, amount_reversed=transfer.amount_reversed or 0,
                currency=transfer.currency, destination=_id_of(transfer.destination),
                metadata=dict((transfer.to_dict().get("metadata") or {})))
                for transfer in page.auto_paging_iter()]
        except stripe.StripeError as error:
            raise GatewayError(_message(error)) from error
        return found


def _id_of(value) -> str:
    return value if isinstance(value, str) else getattr(value, "id", "") or ""


def _message(error: stripe.StripeError) -> str:
    return getattr(error, "user_message", None) or str(error) or "The payment processor refused the call."


class SignatureError(ValueError):
    pass


def verify_event(payload: bytes, header: str, secret: str, *, now: float | None = None,
                 tolerance: int = SIGNATURE_TOLERANCE) -> dict:
    """Check a `Stripe-Signature` header (t=…,v1=…) and return the decoded event.

    Refuses timestamps more than `tolerance` seconds away in either direction:
    Stripe's library only refuses old ones, but a signature from the future
    is as suspect as a stale one.
    :raise SignatureError: missing, malformed, wrong or out-of-time signature; bad JSON.
    """
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key and value:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("Stripe-Signature has no timestamp.") from None
    signatures = parts.get("v1", [])
    if not signatures:
        raise SignatureError("Stripe-Signature has no v1 signature.")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("Stripe-Signature does not match the payload.")
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        raise SignatureError("Stripe-Signature timestamp is too far from now.")
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise SignatureError("The event is not valid JSON.") from None
    if not isinstance(event, dict) or "id" not in event or "type" not in event:
        raise SignatureError("The event lacks an id or a type.")
    return event


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload` (tests post events as Stripe would)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"

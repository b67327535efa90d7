"""A `stripe.HTTPClient` answering Connect calls (accounts, account links, transfers) as Stripe's API
does, since localstripe has no Connect. Everything else is forwarded to localstripe unchanged.

Like Stripe: a POST's Idempotency-Key replays the first answer (success or refusal) for the same
parameters and refuses other parameters (400 idempotency_error); a 5xx that never began executing
is not saved (Stripe-Should-Retry: true). Faults are queued per path: "500" (nothing made),
"timeout" (the request never arrived), "lost" (made, but the response is lost: a timeout to the
caller), or ("refuse", message) (a 400, saved for the key).
"""
from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from urllib.parse import parse_qsl, urlsplit

import stripe
from stripe._http_client import new_default_http_client

_ids = itertools.count(1)


def _nested(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][c]=v) back to a dict."""
    out: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class FakeConnect(stripe.HTTPClient):
    name = "fake-connect"

    def __init__(self, forward_to_localstripe: bool = True):
        super().__init__()
        self.forward = new_default_http_client() if forward_to_localstripe else None
        self.accounts: dict[str, dict] = {}
        self.transfers: dict[str, dict] = {}
        self.saved: dict[tuple[str, str], tuple[dict, int, str]] = {}  # (path, key) → (params, status, body)
        self.faults: dict[str, list] = defaultdict(list)
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, idempotency key)

    # ---- test controls ----
    def fail_next(self, path: str, *faults) -> None:
        self.faults[path].extend(faults)

    def forget_keys(self) -> None:
        """Stripe prunes idempotency keys after 24 hours."""
        self.saved.clear()

    def transfer_posts(self) -> list[str | None]:
        return [key for method, path, key in self.requests if method == "post" and path == "/v1/transfers"]

    # ---- stripe.HTTPClient ----
    def request(self, method, url, headers, post_data=None, *, _usage=None):
        path = urlsplit(url).path
        if not path.startswith(("/v1/accounts", "/v1/account_links", "/v1/transfers")):
            return self.forward.request(method, url, headers, post_data)
        key = (headers or {}).get("Idempotency-Key")
        self.requests.append((method, path, key))
        params = _nested(parse_qsl(post_data or "", keep_blank_values=True)) if method == "post" else \
            _nested(parse_qsl(urlsplit(url).query))
        fault = self.faults[path].pop(0) if self.faults[path] else None
        if fault == "timeout":
            raise stripe.APIConnectionError("Request timed out (fake).", should_retry=True)
        if fault == "500":
            return self._answer({"error": {"type": "api_error", "message": "An unknown error occurred"}}, 500,
                                {"Stripe-Should-Retry": "true"})
        if method == "post" and key and (path, key) in self.saved:
            first, status, body = self.saved[(path, key)]
            if first != params:
                return self._answer({"error": {"type": "idempotency_error", "message":
                                               "Keys for idempotent requests can only be used with the same "
                                               "parameters they were first used with."}}, 400)
            return body, status, {"Idempotent-Replayed": "true", "Request-Id": "req_replay"}
        if isinstance(fault, tuple) and fault[0] == "refuse":
            answer = ({"error": {"type": "invalid_request_error", "message": fault[1]}}, 400)
        else:
            answer = self._execute(method, path, params)
        body, status, rheaders = self._answer(*answer)
        if method == "post" and key:
            self.saved[(path, key)] = (params, status, body)
        if fault == "lost":
            raise stripe.APIConnectionError("Read timed out (fake): the response was lost.", should_retry=True)
        return body, status, rheaders

    def close(self):
        if self.forward is not None:
            self.forward.close()

    # ---- Stripe's objects ----
    def _execute(self, method: str, path: str, params: dict) -> tuple[dict, int]:
        now = int(time.time())
        if method == "post" and path == "/v1/accounts":
            account = {"id": f"acct_fake{next(_ids)}", "object": "account", "type": params.get("type", "express"),
                       "email": params.get("email"), "payouts_enabled": False, "charges_enabled": False,
                       "details_submitted": False, "metadata": params.get("metadata", {}), "created": now}
            self.accounts[account["id"]] = account
            return account, 200
        if method == "post" and path == "/v1/account_links":
            if params.get("account") not in self.accounts:
                return {"error": {"type": "invalid_request_error", "message": "No such account"}}, 400
            return {"object": "account_link", "created": now, "expires_at": now + 300,
                    "url": f"https://connect.stripe.com/setup/e/{params['account']}/{next(_ids)}"}, 200
        if method == "post" and path == "/v1/transfers":
            destination = params.get("destination")
            if destination not in self.accounts:
                return {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                  "param": "destination", "message": f"No such destination: '{destination}'"}}, 400
            transfer = {"id": f"tr_fake{next(_ids)}", "object": "transfer", "amount": int(params["amount"]),
                        "amount_reversed": 0, "currency": params["currency"], "destination": destination,
                        "metadata": params.get("metadata", {}), "reversed": False, "created": now,
                        "transfer_group": params.get("transfer_group"), "reversals": {
                            "object": "list", "data": [], "has_more": False, "url": "/v1/transfers/x/reversals"}}
            self.transfers[transfer["id"]] = transfer
            return transfer, 200
        if method == "get" and path == "/v1/transfers":
            data = sorted((t for t in self.transfers.values()
                           if not params.get("transfer_group") or t["transfer_group"] == params["transfer_group"]),
                          key=lambda t: t["id"], reverse=True)
            return {"object": "list", "data": data, "has_more": False, "url": "/v1/transfers"}, 200
        return {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})"}}, 404

    @staticmethod
    def _answer(body: dict, status: int, headers: dict | None = None):
        return json.dumps(body), status, {"Request-Id": f"req_fake{next(_ids)}", **(headers or {})}

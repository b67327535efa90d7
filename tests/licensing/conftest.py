"""localstripe for the licensing tests: one server per test process, on a free port."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marketplace.payments.gateway import StripeGateway


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("localstripe") / "localstripe.log", "w")
    executable = Path(sys.executable).with_name("localstripe")
    process = subprocess.Popen([str(executable), "--port", str(port), "--from-scratch"],
                               stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path_factory.getbasetemp())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("localstripe did not start within 20 s")
    yield url
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def stripe_gateway(app, localstripe_url):
    """Point the app's payments at the test localstripe for this test."""
    gateway = StripeGateway(app.config["STRIPE_SECRET_KEY"], localstripe_url)
    app.extensions["payment_gateway"] = gateway
    yield gateway
    app.extensions.pop("payment_gateway", None)


def card_token(gateway: StripeGateway, number: str = "4242424242424242") -> str:
    token = gateway.client.v1.tokens.create(
        params={"card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return token.id



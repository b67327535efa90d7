"""The production shape, end to end, on this machine's PostgreSQL and Redis (scripts/smoke-production.sh).

A fresh database on the PostgreSQL server of DIVIDEND_SMOKE_DATABASE_URL (default: the CI's,
postgresql://postgres@127.0.0.1:5432/test; the database itself is only used to create and drop
the smoke's own), an empty Redis database number on DIVIDEND_SMOKE_REDIS_URL (default
redis://127.0.0.1:6379), free ports. Then, printing each check:

1. `flask db upgrade` migrates the empty database;
2. localstripe, gunicorn (gunicorn.conf.py, 2 workers), the job worker (2 processes on Redis,
   no periodic jobs) and the periodic worker start;
3. a platform lists a dataset and a buyer licenses it in the browser's way (log-in, checkout,
   the card tokenized by localstripe, the pay form); localstripe's signed
   `payment_intent.succeeded` reaches gunicorn, the worker settles the payment from Redis;
4. the license turns active with its payment split, allocated by one ledger transaction;
5. `flask ledger check` is clean; the responses don't name gunicorn or Python; the access log
   holds no query string nor a download token.

Everything started is stopped at the end (and by the shell script's trap), the database dropped
and the Redis keys deleted. Exit status 0 only if every check passed.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis
import requests
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = Path(os.environ.get("SMOKE_WORK") or "/tmp")
STARTED = time.monotonic()

processes: dict[str, subprocess.Popen] = {}


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


def check(condition: bool, message: str, detail: object = "") -> None:
    if not condition:
        raise SystemExit(f"FAILED: {message}{f' ({detail})' if detail != '' else ''}")
    say(f"ok  {message}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(name: str, args: list[str], env: dict) -> subprocess.Popen:
    """A process in its own session (so its children stop with it), output to WORK/name.log."""
    log = open(WORK / f"{name}.log", "wb")  # noqa: SIM115 — the process writes it until it ends
    process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    processes[name] = process
    with open(WORK / "pids", "a") as pids:  # the shell script's trap kills these groups
        pids.write(f"{process.pid}\n")
    return process


def stop_all() -> None:
    """TERM to each process group (gunicorn finishes its requests); INT to the workers, whose
    TERM would wait out their queue polling: the queue is empty by now."""
    for name, process in processes.items():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT if name in ("worker", "periodic") else signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
            say(f"    {name} stopped")
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop on TERM: killed")
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    processes.clear()


def wait_for(what: str, probe, timeout: float, watch: tuple[str, ...] = ()):
    """Poll `probe()` until it returns something truthy; fail if a watched process exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except (OSError, requests.RequestException):
            value = None
        if value:
            return value
        for name in watch:
            if processes[name].poll() is not None:
                raise SystemExit(f"FAILED: {name} exited while waiting for {what}:\n{log_tail(name)}")
        if time.monotonic() > deadline:
            raise SystemExit(f"FAILED: {what} within {timeout:.0f} s\n"
                             + "\n".join(log_tail(name) for name in watch))
        time.sleep(0.2)


def log_tail(name: str, lines: int = 30) -> str:
    text = (WORK / f"{name}.log").read_text(errors="replace").splitlines()[-lines:]
    return f"--- {name}.log (last {len(text)} lines) ---\n" + "\n".join(text)


def children(pid: int) -> list[int]:
    """The processes forked by `pid` (same command line; not helpers such as multiprocessing's)."""
    found = []
    command = Path(f"/proc/{pid}/cmdline").read_bytes()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and (entry / "cmdline").read_bytes() == command:
                found.append(int(entry.name))
    return found


# ---- PostgreSQL and Redis ------------------------------------------------------------------------

def create_database(server_url: str) -> tuple[str, str]:
    """A new, empty database on the server; returns (its name, its URL)."""
    url = make_url(server_url)
    name = f"dividend_smoke_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name, url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    url = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MARKER = "dividend:smoke"


def claim_redis_db(base: str) -> int:
    """An empty Redis database number (15 down to 1), claimed with a marker key."""
    for number in range(15, 0, -1):
        client = redis.Redis.from_url(f"{base}/{number}")
        if client.dbsize() == 0 and client.set(MARKER, os.getpid(), nx=True, ex=600):
            if client.dbsize() == 1:
                return number
            client.delete(MARKER)
    raise SystemExit("FAILED: no empty Redis database number (1–15) to run in")


def release_redis_db(base: str, number: int) -> None:
    """Delete what this run wrote: huey's queue, results and schedule, the rate limits, the marker."""
    client = redis.Redis.from_url(f"{base}/{number}")
    keys = [key for pattern in ("huey.*", "LIMITS*", MARKER) for key in client.scan_iter(match=pattern)]
    if keys:
        client.delete(*keys)


# ---- the purchase --------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(response: requests.Response) -> str:
    match = CSRF.search(response.text)
    if not match:
        raise SystemExit(f"FAILED: no CSRF token on {response.url} ({response.status_code})")
    return match.group(1)


def api(session: requests.Session, method: str, url: str, expect: int, **kwargs) -> dict:
    response = session.request(method, url, timeout=30, **kwargs)
    if response.status_code != expect:
        raise SystemExit(f"FAILED: {method} {url} answered {response.status_code}, not {expect}: "
                         f"{response.text[:500]}")
    return response.json() if response.content else {}


def purchase(web: str, stripe: str, publishable_key: str) -> tuple[int, dict]:
    """A platform's published dataset, licensed and paid by a buyer in the browser's way.
    Returns (the license id, the buyer's API headers)."""
    anyone = requests.Session()
    password = secrets.token_urlsafe(16)
    platform = api(anyone, "POST", f"{web}/api/v1/organizations", 201, json={
        "kind": "platform", "name": "Smoke Forum", "owner": {"email": "ops@forum.example", "password": password}})
    owner = {"Authorization": f"Bearer {platform['api_key']}"}
    slug = "smoke-posts"
    api(anyone, "POST", f"{web}/api/v1/datasets", 201, headers=owner, json={
        "slug": slug, "title": "Forum posts", "summary": "Public posts.", "description": "Posts.",
        "content_kind": "post", "languages": ["en"], "tags": ["forum"], "consent_policy": "opt_out",
        "weighting": "records"})
    lines = "".join(
        f'{{"external_id": "r{n}", "contributor": {{"external_id": "u{n % 12}", "region": "US"}}, '
        f'"text": "post number {n}", "created_at": "2024-05-01T12:00:00Z"}}\n' for n in range(60))
    api(anyone, "POST", f"{web}/api/v1/datasets/{slug}/records", 200, data=lines.encode(),
        headers={**owner, "Content-Type": "application/x-ndjson"})
    api(anyone, "POST", f"{web}/api/v1/datasets/{slug}/versions", 201, headers=owner, json={})
    offer = api(anyone, "POST", f"{web}/api/v1/datasets/{slug}/offers", 201, headers=owner, json={
        "name": "Training", "scopes": ["ai-train"], "term_months": 12, "territory": ["*"], "exclusive": False,
        "price": {"model": "flat", "amount": 120_000, "currency": "usd"}, "billing": "one_time",
        "contributor_share_bps": 5000})
    api(anyone, "POST", f"{web}/api/v1/datasets/{slug}/publish", 200, headers=owner)
    say(f"ok  a platform published {slug} (60 records by 12 contributors) and an offer at 1,200.00 usd")

    buyer_email = "buyer@lab.example"
    buyer = api(anyone, "POST", f"{web}/api/v1/organizations", 201, json={
        "kind": "buyer", "name": "Smoke Lab", "owner": {"email": buyer_email, "password": password}})
    browser = requests.Session()
    login = browser.post(f"{web}/login", timeout=30, allow_redirects=False, data={
        "email": buyer_email, "password": password, "csrf_token": csrf_of(browser.get(f"{web}/login", timeout=30))})
    check(login.status_code == 302, "the buyer logs in (CSRF token, session cookie)", login.status_code)
    checkout = browser.get(f"{web}/offers/{offer['id']}/checkout", timeout=30)
    started = browser.post(checkout.url, data={"csrf_token": csrf_of(checkout)}, timeout=30, allow_redirects=False)
    pay_url = started.headers.get("Location", "")
    match = re.search(r"/licenses/(\d+)/pay$", pay_url)
    check(started.status_code == 302 and match is not None, "checkout opens a license and its PaymentIntent",
          f"{started.status_code} {pay_url}")
    license_id = int(match.group(1))
    pay_page = browser.get(f"{web}/licenses/{license_id}/pay", timeout=30)
    token = requests.post(f"{stripe}/v1/tokens", timeout=30, data={  # Stripe.js posts its key
        "key": publishable_key, "card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2034",
        "card[cvc]": "123", "card[address_zip]": "42424"})
    check(token.status_code == 200, "localstripe tokenizes the test card, as Stripe.js does", token.text[:200])
    paid = browser.post(f"{web}/licenses/{license_id}/pay", timeout=30, allow_redirects=False,
                        data={"csrf_token": csrf_of(pay_page), "stripe_token": token.json()["id"]})
    check(paid.status_code == 302 and paid.headers.get("Location", "").endswith(f"/licenses/{license_id}"),
          "the pay form confirms the card", f"{paid.status_code} {paid.headers.get('Location')}")
    return license_id, {"Authorization": f"Bearer {buyer['api_key']}"}


# ---- the run -------------------------------------------------------------------------------------

def main() -> int:
    server_url = os.environ.get("DIVIDEND_SMOKE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_base = os.environ.get("DIVIDEND_SMOKE_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    database, database_url = create_database(server_url)
    say(f"ok  created the empty database {database}")
    redis_db = None
    try:
        redis_db = claim_redis_db(redis_base)
        say(f"ok  Redis database {redis_db} is empty and claimed")
        run(database_url, f"{redis_base}/{redis_db}")
    finally:
        stop_all()
        drop_database(server_url, database)
        if redis_db is not None:
            release_redis_db(redis_base, redis_db)
        say("stopped every process, dropped the database, deleted the Redis keys")
    say("PASSED: the production shape")
    return 0


def run(database_url: str, redis_url: str) -> None:
    web_port, stripe_port = free_port(), free_port()
    web, stripe = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{stripe_port}"
    webhook_secret, publishable_key = f"whsec_{secrets.token_hex(12)}", "pk_test_smoke"
    env = {
        **os.environ,
        "DIVIDEND_DATABASE_URL": database_url,
        "DIVIDEND_JOBS": redis_url,
        "DIVIDEND_RATELIMIT_STORAGE_URI": redis_url,
        "DIVIDEND_SECRET_KEY": secrets.token_hex(32),
        "DIVIDEND_BASE_URL": web,
        "DIVIDEND_STRIPE_API_BASE": stripe,
        "DIVIDEND_STRIPE_SECRET_KEY": "sk_test_smoke",
        "DIVIDEND_STRIPE_PUBLISHABLE_KEY": publishable_key,
        "DIVIDEND_STRIPE_WEBHOOK_SECRET": webhook_secret,
        "DIVIDEND_WEB_BIND": f"127.0.0.1:{web_port}",
        "DIVIDEND_WEB_WORKERS": "2",
        "DIVIDEND_WEB_ACCESS_LOG": str(WORK / "access.log"),
        "DIVIDEND_WEB_ERROR_LOG": "-",
        "FLASK_APP": "app",
    }
    flask = [str(BIN / "flask"), "--app", "app"]

    # localstripe and gunicorn touch no table while they boot: they start during the migration.
    start("localstripe", [str(BIN / "localstripe"), "--port", str(stripe_port), "--from-scratch"], env)
    start("web", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"], env)
    migrated = subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, capture_output=True, text=True,
                              check=False)
    check(migrated.returncode == 0, "flask db upgrade migrates the empty database", migrated.stderr[-2000:])
    start("worker", [*flask, "worker", "-w", "2", "-k", "process", "--no-periodic"], env)
    start("periodic", [*flask, "worker", "-w", "1", "--periodic"], env)

    wait_for("localstripe to answer", lambda: requests.get(f"{stripe}/v1/customers", timeout=2,
                                                           auth=("sk_test_smoke", "")).ok, 30, ("localstripe",))
    registered = requests.post(f"{stripe}/_config/webhooks/dividend", timeout=10,
                               data={"url": f"{web}/webhooks/stripe", "secret": webhook_secret})
    check(registered.ok, f"localstripe on :{stripe_port} sends signed events to {web}/webhooks/stripe")
    wait_for("gunicorn to answer", lambda: requests.get(f"{web}/datasets", timeout=2).status_code == 200,
             60, ("web",))
    workers = wait_for("gunicorn's 2 workers", lambda: len(children(processes["web"].pid)) == 2 and 2, 30, ("web",))
    check(workers == 2, f"gunicorn (gunicorn.conf.py) serves {web} with 2 workers")
    banner = wait_for("the worker to start", lambda: re.search(
        r"Dividend worker: .*", (WORK / "worker.log").read_text(errors="replace")), 60, ("worker",)).group(0)
    check("2 processes on RedisHuey" in banner and "periodic jobs off" in banner,
          f"the job worker runs 2 processes on Redis ({banner})")
    # huey's process consumer: one process per worker and one for its scheduler (retries, delays).
    forked = wait_for("the worker's processes", lambda: len(children(processes["worker"].pid)) == 3, 30,
                      ("worker",))
    check(forked, "the worker's 2 worker processes and its scheduler process are running")
    periodic = wait_for("the periodic worker to start", lambda: re.search(
        r"Dividend worker: .*", (WORK / "periodic.log").read_text(errors="replace")), 60, ("periodic",)).group(0)
    check("periodic jobs on" in periodic, f"the periodic worker runs ({periodic})")

    license_id, buyer = purchase(web, stripe, publishable_key)

    def settled():
        body = requests.get(f"{web}/api/v1/licenses/{license_id}", headers=buyer, timeout=5).json()
        return body if body.get("status") == "active" and body.get("split") else None

    body = wait_for("the license to turn active and its payment to be allocated", settled, 60,
                    ("web", "worker", "localstripe"))
    split = {name: value["amount"] if isinstance(value, dict) else value for name, value in body["split"].items()}
    check(split.get("paid") == 120_000 and split.get("to_contributors", 0) > 0,
          f"license {license_id} is active and its payment allocated: {split}")
    worker_logs = "".join((WORK / f"{name}.log").read_text(errors="replace") for name in ("worker", "periodic"))
    check("Executing marketplace.payments.jobs.settle_payment" in worker_logs,
          "a worker settled it from the Redis queue (localstripe → gunicorn → Redis → worker)")

    with psycopg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(
            hide_password=False)) as connection:
        rows = connection.execute(
            "SELECT t.idempotency_key, COUNT(*) FROM ledger_transactions t JOIN allocations a "
            "ON a.transaction_id = t.id GROUP BY t.idempotency_key").fetchall()
    check(len(rows) == 1 and rows[0][1] == 1, "one allocation, posted by one ledger transaction", rows)

    ledger = subprocess.run([*flask, "ledger", "check"], env=env, cwd=ROOT, capture_output=True, text=True,
                            check=False)
    print(ledger.stdout.rstrip(), flush=True)
    check(ledger.returncode == 0 and "OK: every invariant holds." in ledger.stdout,
          "flask ledger check is clean", ledger.stderr[-2000:])

    response = requests.get(f"{web}/datasets", timeout=10)
    named = {name: value for name, value in response.headers.items()
             if re.search(r"gunicorn|python|werkzeug", value, re.IGNORECASE)}
    check(response.headers.get("Server") == "Dividend" and not named,
          "responses say `Server: Dividend` and name neither gunicorn nor Python", dict(response.headers))

    secret = secrets.token_hex(8)
    requests.get(f"{web}/datasets?q=forum&smoke_token={secret}", timeout=10)
    requests.get(f"{web}/api/v1/licenses/{license_id}/export/{secret}", timeout=10)
    access = (WORK / "access.log").read_text(errors="replace")
    check("GET /datasets HTTP/1.1" in access and "/export/[redacted]" in access and secret not in access,
          "the access log records requests without their query string or download token",
          access[-1000:])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            print(exit_.code, file=sys.stderr, flush=True)
            for name in ("web", "worker", "periodic", "localstripe"):
                if (WORK / f"{name}.log").exists():
                    print(log_tail(name, 15), file=sys.stderr)
            sys.exit(1)
        raise

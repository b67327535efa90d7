"""Five pages under load, served by gunicorn (2 workers) over PostgreSQL holding 1,000,000
contributors, against a floor served the same way in the same run: a minimal Flask route.

    .venv/bin/python bench/load.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
    .venv/bin/python bench/load.py --contributors 100000 --records 200000 --seconds 10   # quicker

The run creates a database of its own on the server of --database-url (named after the process) and
drops it at the end. Building it is not timed: one platform's dataset of --records records from
--contributors contributors in bulk SQL (bench/allocation.py's data: a fifth in opt-in regions,
consent decisions of every kind), frozen, offered and published through the services; a buyer
(with an API key) buys three licenses, each paid as the webhook records a payment and allocated
over the whole dataset; one contributor gets an account.

Then gunicorn serves the app (`app:app`) and bench/_minimal.py's one route, each with --workers
sync workers (a gunicorn.conf.py in the repository applies to both; the command line's workers
and bind win). For each path, locust (headless, bench/_locustfile.py) runs --users users that
request it back to back, without pause, for --seconds seconds, after a warm-up; any status but
200 fails the run. The paths: the catalog, the dataset's page, the contributor's statement
(logged in with a session cookie), the dataset's transparency page (its report kept between
requests as deployed, DIVIDEND_TRANSPARENCY_CACHE_SECONDS=60, computed during the warm-up), and
`GET /api/v1/licenses/{id}` with the buyer's key. The minimal route runs first and last; the
better of its two runs is the floor. Last line: one JSON object, per page `rps`, `p50_ms`,
`p99_ms` and `ratio_to_minimal` (the page's requests/s over the minimal route's).

Goals (issue 15): p99 under 100 ms, and at least half the minimal route's requests/s, on every page.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, fresh_postgres, migrated_app, run_child  # noqa: E402
from allocation import OPT_IN, fill, make_dataset  # noqa: E402

BENCH = Path(__file__).resolve().parent
SECRET = "bench-load-secret-not-real"
PASSWORD = "load bench password"
EMAIL = "me@example.test"
ME = "user-0000007"  # a contributor in an opt-out region (index 7: "US"), so eligible and paid
SLUG = "big"
PRICE = 250_000
#: gunicorn's worker timeout here (its default is 30 s): the transparency report's first computation
#: over a million paid contributors took longer than 30 s on the shared machine, and gunicorn
#: answered 500 after killing the worker. The warm-up computes it; the figures are the kept report's.
TIMEOUT = 300


def child_build(url: str, records: int, contributors: int) -> dict:
    from sqlalchemy import select

    from marketplace.accounts import services as accounts
    from marketplace.catalog import offers, services
    from marketplace.catalog.models import Contributor, Dataset
    from marketplace.catalog.schemas import OfferCreateSchema
    from marketplace.catalog.versions import freeze_version
    from marketplace.contributors.identities import link
    from marketplace.demo_history import paid_license
    from marketplace.extensions import db

    started = time.perf_counter()
    app = migrated_app(url)
    app.config["OPT_IN_REGIONS"] = OPT_IN
    platform_id, dataset_id = make_dataset(app, SLUG)
    fill(url, platform_id, dataset_id, records, contributors)  # records written scanned
    with app.app_context():
        dataset = db.session.get(Dataset, dataset_id)
        dataset.summary = "Forum posts, one million contributors, each paid for every license."
        version = freeze_version(db.session, dataset)
        offer = offers.create_offer(db.session, dataset, OfferCreateSchema().load({
            "name": "Training", "scopes": ["ai-train"], "term_months": 12, "territory": ["*"],
            "price": {"model": "flat", "amount": PRICE, "currency": "usd"}, "contributor_share_bps": 5000}))
        services.publish(db.session, dataset)
        buyer, buyer_user, key = accounts.sign_up(db.session, "buyer", "Bench Lab", "lab@example.test", PASSWORD)
        user = accounts.create_user(db.session, EMAIL, PASSWORD, role="contributor")
        link(db.session, db.session.scalar(select(Contributor).where(Contributor.external_id == ME)), user)
        db.session.commit()
        licenses = []
        for n in range(3):
            license, _payment, allocation = paid_license(buyer, buyer_user, offer.id, tag=f"load{n}")
            db.session.commit()
            licenses.append(license.id)
        result = {"license_id": licenses[-1], "api_key": key.secret, "eligible": allocation.eligible_count,
                  "version_records": version.record_count}
    return {**result, "build_seconds": time.perf_counter() - started}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn(target: str, workers: int, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """Start gunicorn serving `target` on a free port; returns the process and its base URL once
    it answers."""
    import requests

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
         "--timeout", str(TIMEOUT), "--bind", f"127.0.0.1:{port}", "--pythonpath", f"{ROOT},{BENCH}", target],
        cwd=ROOT, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn {target} exited; see {log}:\n{log.read_text()[-3000:]}")
        try:
            requests.get(base + "/", timeout=30)
            return process, base
        except requests.RequestException:
            time.sleep(0.5)
    stop(process)
    raise SystemExit(f"gunicorn {target} did not answer in 120 s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_in(base: str) -> str:
    """The contributor's session cookie, from the log-in form (CSRF token and all)."""
    import requests

    with requests.Session() as browser:
        form = browser.get(base + "/login", timeout=30)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
        if token is None:
            token = re.search(r'value="([^"]+)"[^>]*name="csrf_token"', form.text)
        answer = browser.post(base + "/login", data={"csrf_token": token.group(1), "email": EMAIL,
                                                     "password": PASSWORD}, allow_redirects=False, timeout=30)
        if answer.status_code != 302:
            raise SystemExit(f"log-in answered {answer.status_code}")
        return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def warm_up(base: str, path: str, headers: dict, users: int) -> None:
    """A few requests on every worker (templates compiled, caches filled), checked for 200."""
    import requests

    def one(_):
        answer = requests.get(base + path, headers=headers, timeout=120, allow_redirects=False)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")

    with ThreadPoolExecutor(users) as pool:
        list(pool.map(one, range(users * 5)))


def locust(base: str, path: str, headers: dict, users: int, seconds: int, folder: Path) -> dict:
    """One headless locust run against one path; requests/s, p50 and p99 from its CSV."""
    prefix = folder / f"locust-{abs(hash(path))}"
    completed = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(BENCH / "_locustfile.py"), "--headless", "--only-summary",
         "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s", "--host", base,
         "--csv", str(prefix), "--loglevel", "WARNING", "--stop-timeout", "5"],
        cwd=ROOT, env={**os.environ, "BENCH_PATH": path, "BENCH_HEADERS": json.dumps(headers)},
        capture_output=True, text=True)
    with open(f"{prefix}_stats.csv", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    requests, failures = int(row["Request Count"]), int(row["Failure Count"])
    if failures or not requests:
        raise SystemExit(f"GET {path}: {failures} failures of {requests} requests\n{completed.stderr[-3000:]}")
    return {"rps": float(row["Requests/s"]), "p50_ms": float(row["50%"]), "p99_ms": float(row["99%"]),
            "requests": requests}


def profile(url: str, pages: list[tuple[str, str, dict]], folder: Path, requests: int = 20) -> None:
    """Each page `requests` times through the test client under pyinstrument, after a warm-up; the
    profiles go to `folder` as text."""
    from pyinstrument import Profiler

    from marketplace import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "JOBS": "immediate",
                      "OPT_IN_REGIONS": OPT_IN})
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    assert client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}).status_code == 302
    for name, path, headers in pages:
        headers = {k: v for k, v in headers.items() if k != "Cookie"}  # the client keeps its own session
        assert client.get(path, headers=headers).status_code == 200, path
        profiler = Profiler(interval=0.0005)
        started = time.perf_counter()
        with profiler:
            for _ in range(requests):
                client.get(path, headers=headers)
        each = (time.perf_counter() - started) / requests * 1000
        (folder / f"profile-{name}.txt").write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"{name}: {each:.1f} ms a request in-process; profile in {folder / f'profile-{name}.txt'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "DIVIDEND_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server (any database on it): the run creates its own database there")
    parser.add_argument("--contributors", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=4, help="concurrent locust users (default 2 per worker)")
    parser.add_argument("--seconds", type=int, default=20, help="each path's run")
    parser.add_argument("--profile", metavar="FOLDER", help="instead of the load: profile each page in-process "
                        "(pyinstrument, through the test client) and write the profiles to FOLDER")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _kind, url, records, contributors = args.child
        print(json.dumps(child_build(url, int(records), int(contributors))))
        return
    script = Path(__file__)
    with fresh_postgres(args.database_url, f"bench_load_{os.getpid()}") as url, \
            tempfile.TemporaryDirectory(prefix="dividend-bench-") as folder_name:
        folder = Path(folder_name)
        built = run_child(script, "build", url, str(args.records), str(args.contributors))
        print(f"built {args.records:,} records from {args.contributors:,} contributors, published, 3 licenses "
              f"sold, each allocated to {built['eligible']:,} contributors, in {built['build_seconds']:.0f} s "
              f"(not timed)", flush=True)
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            profile(url, [("catalog", "/datasets", {}), ("dataset", f"/datasets/{SLUG}", {}),
                          ("statement", "/me/statement", {}), ("transparency", f"/datasets/{SLUG}/transparency", {}),
                          ("license_api", f"/api/v1/licenses/{built['license_id']}",
                           {"Authorization": f"Bearer {built['api_key']}"})], Path(args.profile))
            return
        env = {"DIVIDEND_DATABASE_URL": url, "DIVIDEND_SECRET_KEY": SECRET, "DIVIDEND_JOBS": "immediate",
               "DIVIDEND_OPT_IN_REGIONS": ",".join(sorted(OPT_IN)), "DIVIDEND_TRANSPARENCY_CACHE_SECONDS": "60"}
        log = folder / "gunicorn.log"
        app_server, app_base = gunicorn("app:app", args.workers, env, log)
        minimal_server, minimal_base = gunicorn("_minimal:app", args.workers, env, log)
        try:
            cookie = log_in(app_base)
            api = {"Authorization": f"Bearer {built['api_key']}"}
            pages = [
                ("catalog", "/datasets", {}),
                ("dataset", f"/datasets/{SLUG}", {}),
                ("statement", "/me/statement", {"Cookie": cookie}),
                ("transparency", f"/datasets/{SLUG}/transparency", {}),
                ("license_api", f"/api/v1/licenses/{built['license_id']}", api),
            ]
            measured, minimal_runs = {}, []

            def run_minimal():
                warm_up(minimal_base, "/ping", {}, args.users)
                minimal_runs.append(locust(minimal_base, "/ping", {}, args.users, args.seconds, folder))
                print(f"minimal route: {minimal_runs[-1]['rps']:,.0f} requests/s, "
                      f"p50 {minimal_runs[-1]['p50_ms']:.0f} ms, p99 {minimal_runs[-1]['p99_ms']:.0f} ms", flush=True)

            run_minimal()
            failed = {}
            for name, path, headers in pages:
                try:
                    warm_up(app_base, path, headers, args.users)
                    measured[name] = locust(app_base, path, headers, args.users, args.seconds, folder)
                except SystemExit as failure:  # the others are still worth measuring
                    failed[name] = str(failure)[:300]
                    print(f"{name} (GET {path}) FAILED: {failed[name]}", flush=True)
                    continue
                print(f"{name} (GET {path}): {measured[name]['rps']:,.0f} requests/s, "
                      f"p50 {measured[name]['p50_ms']:.0f} ms, p99 {measured[name]['p99_ms']:.0f} ms", flush=True)
            run_minimal()
        finally:
            stop(app_server)
            stop(minimal_server)
            if log.exists():
                kept = Path(tempfile.gettempdir()) / f"dividend-bench-load-{os.getpid()}.log"
                kept.write_bytes(log.read_bytes())
                print(f"gunicorn's log: {kept}")
    minimal = max(minimal_runs, key=lambda run: run["rps"])
    print(f"\n{'page':<14}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'× minimal':>11}")
    summary = {}
    for name, figures in [("minimal", minimal), *measured.items()]:
        ratio = figures["rps"] / minimal["rps"]
        print(f"{name:<14}{figures['rps']:>12,.0f}{figures['p50_ms']:>9.0f}{figures['p99_ms']:>9.0f}{ratio:>11.2f}")
        summary[name] = {"rps": round(figures["rps"], 1), "p50_ms": figures["p50_ms"], "p99_ms": figures["p99_ms"],
                         "ratio_to_minimal": round(ratio, 3)}
    for name, error in failed.items():
        summary[name] = {"rps": None, "p99_ms": None, "ratio_to_minimal": None, "error": error}
    missed = [name for name, figures in summary.items() if name != "minimal"
              and (figures["rps"] is None or figures["p99_ms"] >= 100 or figures["ratio_to_minimal"] < 0.5)]
    print(f"goal (p99 < 100 ms and ≥ 0.5× the minimal route's requests/s): "
          f"{'met on every page' if not missed else 'missed by ' + ', '.join(missed)}; "
          f"{args.workers} workers, {args.users} users, {args.seconds} s a page, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

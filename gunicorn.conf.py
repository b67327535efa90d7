"""Dividend's web process in production: `gunicorn -c gunicorn.conf.py app:app`.

Every setting reads a `DIVIDEND_WEB_*` variable (README.md, "Production"); the defaults suit one
machine behind a reverse proxy that terminates TLS.

- Workers are `gthread`: the arbiter's heartbeat runs beside the request threads, so a long
  streamed export or a large import is not killed as a silent worker (a `sync` worker is killed
  after `timeout` seconds of one request). `timeout` is the heartbeat's limit, not a request's.
- The access log names the method, the path, the status, the size, the time and the agent,
  never a query string, the referrer or the credential a path can carry (a download's signed
  token in `/export/<token>` and `/manifest/<token>`); see `RedactingLogger`.
- Responses say `Server: Dividend`: gunicorn writes its own name into every response and has no
  setting for it, so the module-level name its `Response` reads is replaced here (checked by
  scripts/smoke-production.sh). A proxy in front may replace the header again.
"""
from __future__ import annotations

import multiprocessing
import os
import re

import gunicorn.http.wsgi
from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    raw = os.environ.get(f"DIVIDEND_WEB_{name}")
    return int(raw) if raw else default


#: Where to listen: `host:port` or `unix:/path`.
bind = os.environ.get("DIVIDEND_WEB_BIND", "127.0.0.1:8000")
#: Worker processes; each builds the app and its own database connection pool.
workers = _int("WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
#: Request threads per worker (the database pool must allow as many connections).
threads = _int("THREADS", 4)
worker_class = "gthread"
#: Seconds a worker may miss the arbiter's heartbeat before it is killed and replaced.
timeout = _int("TIMEOUT", 60)
#: Seconds a worker finishes its requests in after a restart or TERM.
graceful_timeout = _int("GRACEFUL_TIMEOUT", 30)
#: Seconds an idle keep-alive connection is held (the proxy's should be longer).
keepalive = _int("KEEPALIVE", 5)
#: Recycle each worker after about this many requests (0: never), against slow leaks.
max_requests = _int("MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
#: The proxies whose X-Forwarded-Proto gunicorn trusts (comma separated; "*" for any).
forwarded_allow_ips = os.environ.get("DIVIDEND_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")

#: "-" writes to stdout/stderr (the process manager keeps them); a path appends to that file.
accesslog = os.environ.get("DIVIDEND_WEB_ACCESS_LOG", "-")
errorlog = os.environ.get("DIVIDEND_WEB_ERROR_LOG", "-")
loglevel = os.environ.get("DIVIDEND_WEB_LOG_LEVEL", "info")
#: Remote address, time, request without its query string, status, bytes, milliseconds, agent.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

proc_name = "dividend-web"

#: gunicorn's control socket (`gunicornc`): off unless a path is given (its default path is one
#: per user, shared by every gunicorn that user runs).
control_socket = os.environ.get("DIVIDEND_WEB_CONTROL_SOCKET", "")
control_socket_disable = not control_socket

#: The `Server` header's value (gunicorn's is "gunicorn").
SERVER_NAME = "Dividend"
gunicorn.http.wsgi.SERVER = SERVER_NAME

#: A path segment that is a credential: the signed token of an export or a manifest URL.
_SECRET_SEGMENT = re.compile(r"(/(?:export|manifest)/)[^/]+")
#: Request headers never offered to the log format (a format naming them logs nothing).
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{stripe-signature}i", "{idempotency-key}i")


class RedactingLogger(Logger):
    """gunicorn's logger, whose access-log atoms carry no query string, referrer or credential."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = _SECRET_SEGMENT.sub(r"\1[redacted]", environ.get("PATH_INFO") or "")
        atoms["U"] = path
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}"
        atoms["q"] = "-"
        atoms["f"] = "-"
        for name in _SECRET_HEADERS:
            atoms.pop(name, None)
        for name in [name for name in atoms if name.endswith("}e")]:
            atoms.pop(name)  # the environ: QUERY_STRING, RAW_URI, HTTP_AUTHORIZATION…
        return atoms


logger_class = RedactingLogger

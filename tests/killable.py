"""A launcher for tests/test_killed_mid_write.py: imports the app once, then forks a fresh child
for each `flask` command line it reads, so a test can kill -9 a real worker or command many times
without paying Python's and the app's start-up (seconds each on a busy machine) every time.

    python -m tests.killable LOGDIR      (environment: DIVIDEND_DATABASE_URL, DIVIDEND_JOBS, …)

stdin, one request a line; stdout, one answer a line:

    run worker -w 2 --no-periodic   ->  <pid>     the child runs `flask --app app worker -w 2 --no-periodic`
    wait <pid>                      ->  <status>  the child's exit code, or -<signal> if a signal ended it

The child is the command as the flask CLI runs it (FlaskGroup, the app's commands), with its
output in LOGDIR/<pid>.log. No database connection or queue file is open when it forks.
"""
from __future__ import annotations

import os
import shlex
import sys


def main(logdir: str) -> None:
    from flask.cli import FlaskGroup

    from app import app
    from marketplace import jobs

    cli = FlaskGroup(create_app=lambda: app, load_dotenv=False, set_debug_flag=False)
    print("ready", flush=True)
    for line in sys.stdin:
        verb, _, rest = line.strip().partition(" ")
        if verb == "run":
            jobs.huey.storage.close() if hasattr(jobs.huey.storage, "close") else None
            pid = os.fork()
            if pid == 0:
                log = os.open(os.path.join(logdir, f"{os.getpid()}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(log, 1)
                os.dup2(log, 2)
                code = 0
                try:
                    cli.main(args=shlex.split(rest), prog_name="flask", standalone_mode=True)
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                except BaseException:  # noqa: BLE001 — reported in the log, as the CLI would
                    import traceback

                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
            print(pid, flush=True)
        elif verb == "wait":
            _pid, status = os.waitpid(int(rest), 0)
            print(os.waitstatus_to_exitcode(status), flush=True)
        else:
            print(f"unknown request {line.strip()!r}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

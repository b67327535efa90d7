"""bench/load.py's users: each GETs one path over and over, without pause, and fails on any other
status than 200. The path and the headers (a session cookie, an API key) come from the environment:
BENCH_PATH, BENCH_HEADERS (a JSON object)."""
import json
import os

from locust import FastHttpUser, constant, task

PATH = os.environ["BENCH_PATH"]
HEADERS = json.loads(os.environ.get("BENCH_HEADERS", "{}"))


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self):
        with self.client.get(PATH, headers=HEADERS, name=PATH, catch_response=True,
                             allow_redirects=False) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")

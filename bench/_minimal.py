"""The smallest Flask app: bench/load.py's floor, served by gunicorn exactly as the real app is."""
from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping():
    return "ok"

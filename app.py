"""Entry point for `flask --app app …` and WSGI servers."""
from marketplace import create_app

app = create_app()

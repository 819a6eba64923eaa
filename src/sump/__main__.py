from sump.cli import app

app()

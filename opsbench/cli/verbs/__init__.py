"""One module per family of verbs; every module here is imported by `main.load_verbs` and
registers its verbs on the app (`@app.command()`, or `app.add_typer` for a group)."""

"""OPENAI-COMPATIBLE HTTP SURFACE: `create_app` in app.py, `shutka serve` in cli.py; talks to the facade only."""

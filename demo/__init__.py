"""The demo: a realistic, deterministic audience with example segments and campaigns, loaded by
`manage.py seed_demo`. It writes to every app, so it sits above them all, beside `config`."""

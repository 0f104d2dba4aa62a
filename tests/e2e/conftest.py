"""Browser tests use the fixtures of tests/conftest.py (browser, live_server, page)."""

"""Organisations, users, roles, passwords, second factor, API tokens (and later certificate sign-in)."""


def init_app(app):
    from accounts.setup import init_app as _init

    _init(app)

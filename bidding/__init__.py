"""Tenders, lots, documents, clarifications, objections, the deposit ledger, bids and the opening."""


def init_app(app):
    from bidding.setup import init_app as _init

    _init(app)

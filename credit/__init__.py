"""Bad-conduct records and debarments (不良行为记录), and the record-based part of credit scores.

Other packages ask ``credit.services`` whether a party is debarred (R-R3); credit imports nothing from
bidding or experts.
"""


def init_app(app):
    from credit.setup import init_app as _init

    _init(app)

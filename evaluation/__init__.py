"""Evaluation: scoring schemes defined with the tender, the scoring formulas, aggregation of the experts'
sheets with flags, score review, and the evaluation report."""


def init_app(app):
    from evaluation.setup import init_app as _init

    _init(app)

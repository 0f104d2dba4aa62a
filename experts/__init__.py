"""The expert pool, specialties, availability, avoidance, draws (and later calls and the committee)."""


def init_app(app):
    from experts.setup import init_app as _init

    _init(app)

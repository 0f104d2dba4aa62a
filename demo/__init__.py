"""Demo data for the embedded mode (``flask --app wsgi demo seed``) and later sample tenders."""


def init_app(app):
    from demo.cli import demo_cli

    app.cli.add_command(demo_cli)

"""bidtool: the tenderer's and custodian's offline client (console script ``bidtool``).

Depends only on ``crypto`` and click; it runs on the tenderer's own machine, never inside the
platform, so it must not import Flask, SQLAlchemy or any platform package.
"""

from __future__ import annotations


def version() -> str:
    """The installed distribution's version (the ``tool.version`` written into every manifest)."""
    # Imported here: importlib.metadata alone costs about a fifth of bidtool's start-up time.
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version("sunbid")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""mypy plugin: ``core.schemas.Text[n]`` (and ``Text[low, high]``) is a ``str``.

``Text`` builds a pydantic ``Annotated[str, StringConstraints(...)]`` at run time from its bounds, which
is how the API schemas read (``title: Text[1, 200]``); a type checker cannot evaluate that call, so this
tells mypy what it stands for instead of silencing the schema modules."""

from __future__ import annotations

from collections.abc import Callable

from mypy.plugin import AnalyzeTypeContext, Plugin
from mypy.types import Type


def _text(ctx: AnalyzeTypeContext) -> Type:
    return ctx.api.named_type("builtins.str", [])


class TextPlugin(Plugin):
    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        return _text if fullname == "core.schemas.Text" else None


def plugin(version: str) -> type[Plugin]:
    return TextPlugin

"""Entry point module: the ``transformerlens`` alias scheme."""

from __future__ import annotations

from collections.abc import Iterator

from hookpoints import hookimpl
from hookpoints.plugins import AliasScheme


@hookimpl
def hookpoints_alias_schemes() -> Iterator[AliasScheme]:
    from .tables import rules_for

    yield AliasScheme(
        "transformerlens",
        "TransformerLens HookedTransformer names on attached HF GPT-2 and Llama models",
        rules=rules_for,
    )

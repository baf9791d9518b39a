"""What every settings section is built on (each section module imports this, never the package)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _registered_name(kind: str, name: str, *builtin: str) -> str:
    """``name`` when the plugin registry knows it (a ValueError naming the choices when not). The
    built-in names pass without loading the registry, so plain settings import no plugin."""
    if name in builtin:
        return name
    from zhiku.plugins import registry

    known = registry().names(kind)
    if name not in known:
        choices = sorted(set(known) | ({"none"} & set(builtin)))  # "none": the setting's off switch
        raise ValueError(f"unknown {kind.replace('_', ' ')} '{name}'; choices: {', '.join(choices)}")
    return name

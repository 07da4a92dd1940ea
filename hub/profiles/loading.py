"""Finding and loading a profile: a built-in name or a YAML file, validated with file:line errors."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, field_validator

from hub.config import load_yaml_model
from hub.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def builtin_profiles(folder: Path) -> dict[str, Path]:
    """The built-in profiles of a format: ``{name: path}`` of the ``*.yaml`` files of ``folder``."""
    return {p.stem: p for p in sorted(folder.glob("*.yaml"), key=lambda p: p.stem)}


def profile_path(value: str, builtin_dir: Path, base_dir: Path | None = None) -> Path:
    """The file of a profile given by built-in name (``atlas``) or by path (relative to ``base_dir``,
    default the current folder). An unknown built-in name is a :class:`ConfigError`."""
    builtins = builtin_profiles(builtin_dir)
    if value in builtins:
        return builtins[value]
    if _NAME.match(value) and not value.endswith((".yaml", ".yml")):
        close = difflib.get_close_matches(value, list(builtins), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown built-in profile {value!r} (built-in: {', '.join(builtins)}{hint}) "
                          "— or give the path of a .yaml file")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir or Path.cwd()) / path


@dataclass(frozen=True)
class _Cached:
    mtime: float
    value: Any


_CACHE: dict[tuple[str, type], _Cached] = {}


def load_profile(path: Path, model: type[M]) -> M:
    """Load and validate the profile file ``path`` into ``model`` (cached until the file changes).

    Problems raise :class:`ConfigError` naming the file and line. A model with a ``bind(path)``
    method has it called once loaded (to find what the profile refers to, e.g. a template).
    """
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc.strerror}") from None
    key = (str(path), model)
    cached = _CACHE.get(key)
    if cached is None or cached.mtime != mtime:
        profile = load_yaml_model(path, model)
        if hasattr(profile, "bind"):
            profile.bind(path)
        cached = _CACHE[key] = _Cached(mtime, profile)
    return cached.value


def profile_option(value: str, model: type[BaseModel], builtin_dir: Path, *, prefix: str = "") -> str:
    """For a format Config's ``profile`` field validator: load the profile now, so that a bad
    profile is a configuration error (one ValueError with every problem, after ``prefix``)."""
    try:
        load_profile(profile_path(value, builtin_dir), model)
    except ConfigError as exc:
        raise ValueError(prefix + "; ".join(exc.problems)) from None
    return value


class ProfileOption(BaseModel):
    """Mixin of a format ``Config`` whose ``profile`` option names a profile: validates it when the
    configuration loads and gives it, loaded, as ``loaded_profile``.

    The Config declares the ``profile`` field itself (its default and description) and sets
    ``profile_model`` and ``profiles_dir`` (its built-in profiles)."""

    profile_model: ClassVar[type[BaseModel]]
    profiles_dir: ClassVar[Path]
    #: put before the problems of a profile that does not load
    profile_error_prefix: ClassVar[str] = ""

    @field_validator("profile", check_fields=False)
    @classmethod
    def _profile_loads(cls, value: str) -> str:
        return profile_option(value, cls.profile_model, cls.profiles_dir, prefix=cls.profile_error_prefix)

    def profile_file(self) -> Path:
        return profile_path(self.profile, self.profiles_dir)  # type: ignore[attr-defined]

    @property
    def loaded_profile(self) -> Any:
        return load_profile(self.profile_file(), self.profile_model)

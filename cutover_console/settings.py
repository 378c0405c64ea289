"""The console's settings file: `$XDG_CONFIG_HOME/cutover-console/config.toml` (default
`~/.config/cutover-console/config.toml`), or the file `CUTOVER_CONFIG` names.

```toml
theme = "gruvbox"            # one of Textual's themes

[keymap]                     # binding id = keys, comma-separated (Textual key names)
start = "s,f5"
pane-dns = "f1"
```

Validated when the console starts: an unknown setting, an unknown binding id, a key given twice
or a bad value is an error that names the file and what is wrong. No file is no settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

KNOWN = ("theme", "keymap")


class SettingsError(ValueError):
    """A settings file a person has to fix: the message names the file and the setting."""


@dataclass(frozen=True)
class Settings:
    path: Path | None = None  # the file read (None: there was none)
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> "key1,key2"


def settings_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the settings are read from (the file need not exist)."""
    env = os.environ if env is None else env
    if env.get("CUTOVER_CONFIG"):
        return Path(env["CUTOVER_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "cutover-console" / "config.toml"


def split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def load_settings(
    defaults: Mapping[str, str],
    themes: Iterable[str],
    path: Path | None = None,
) -> Settings:
    """Read and check the settings. `defaults` maps every binding id to its default keys;
    `themes` are the theme names that exist. A missing file is no settings; `CUTOVER_CONFIG`
    naming a missing file is an error (someone meant a file)."""
    named = path is not None or bool(os.environ.get("CUTOVER_CONFIG"))
    path = path or settings_path()
    if not path.is_file():
        if named:
            raise SettingsError(f"{path}: no such settings file (from CUTOVER_CONFIG)")
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(KNOWN))
    if unknown:
        raise SettingsError(f"{path}: unknown setting '{unknown[0]}' (known: {', '.join(KNOWN)})")
    theme = data.get("theme")
    if theme is not None:
        names = sorted(themes)
        if not isinstance(theme, str) or theme not in names:
            raise SettingsError(
                f"{path}: theme: '{theme}' is not a theme (one of: {', '.join(names)})"
            )
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise SettingsError(f'{path}: keymap must be a table ([keymap], binding id = "keys")')
    for binding_id, keys in keymap.items():
        if binding_id not in defaults:
            raise SettingsError(
                f"{path}: keymap: unknown binding id '{binding_id}' "
                f"(binding ids: {', '.join(sorted(defaults))})"
            )
        if not isinstance(keys, str) or not split_keys(keys):
            raise SettingsError(
                f"{path}: keymap.{binding_id}: give the keys as text, comma-separated "
                f'(such as {binding_id} = "f5,ctrl+s")'
            )
    effective = {b: keymap.get(b, keys) for b, keys in defaults.items()}
    owner: dict[str, str] = {}
    for binding_id, keys in effective.items():
        for key in split_keys(keys):
            other = owner.setdefault(key, binding_id)
            if other != binding_id:
                first, second = sorted((other, binding_id))
                where = "given twice" if first in keymap and second in keymap else "taken"
                raise SettingsError(
                    f"{path}: keymap: key '{key}' is {where}: {first} and {second} "
                    "(remap one of them)"
                )
    return Settings(path, theme, dict(keymap))

"""Load server settings from defaults, a JSON file and environment variables.

Later sources win: built-in defaults < config file < GLINT_* environment
variables. Only keys that exist in the defaults are accepted, so a typo in the
config file is reported instead of silently ignored.
"""

import json
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

ENV_PREFIX = "GLINT_"

DEFAULTS: Dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 8080,
    "threads": 4,
    "ctx_size": 4096,
    "batch_size": 512,
    "model_path": "",
    "log_level": "info",
    "metrics": False,
}


class ConfigError(Exception):
    """Raised for unreadable or invalid configuration."""


def _coerce(key: str, raw: str, like: Any) -> Any:
    """Convert an environment string to the type of the default value."""
    if isinstance(like, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected a boolean, got {raw!r}")
    if isinstance(like, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {raw!r}") from None
    return raw


def load_file(path: Path) -> Dict[str, Any]:
    """Read a JSON object of overrides from `path`."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be an object")
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{path}: unknown keys: {', '.join(unknown)}")
    return data


def load_env(environ: Mapping[str, str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key not in DEFAULTS:
            continue
        out[key] = _coerce(name, raw, DEFAULTS[key])
    return out


def validate(cfg: Dict[str, Any]) -> None:
    if not 0 < cfg["port"] < 65536:
        raise ConfigError(f"port out of range: {cfg['port']}")
    if cfg["threads"] < 1:
        raise ConfigError("threads must be at least 1")
    if cfg["batch_size"] > cfg["ctx_size"]:
        raise ConfigError("batch_size cannot exceed ctx_size")
    if cfg["log_level"] not in ("debug", "info", "warn", "error"):
        raise ConfigError(f"unknown log_level: {cfg['log_level']}")


def load(path: Optional[Path] = None,
         environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Merge all sources and validate the result."""
    cfg = dict(DEFAULTS)
    if path is not None:
        cfg.update(load_file(path))
    cfg.update(load_env(os.environ if environ is None else environ))
    validate(cfg)
    return cfg

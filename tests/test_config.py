"""TOML configuration: typed, unknown keys rejected, flags layered on top, resolved config written back."""

import tomllib
from dataclasses import dataclass, field

import pytest

from warble.config import from_dict, load_toml, save_toml
from warble.errors import ConfigError


@dataclass
class Inner:
    threshold: float | None = 0.7
    langs: tuple[str, ...] | None = None


@dataclass
class Outer:
    workers: int = 0
    name: str = "x"
    inner: Inner = field(default_factory=Inner)


def test_from_dict_types_and_nesting():
    cfg = from_dict(Outer, {"workers": 3, "inner": {"threshold": 1, "langs": ["en", "es"]}})
    assert cfg.workers == 3 and cfg.inner.threshold == 1.0 and cfg.inner.langs == ("en", "es")


@pytest.mark.parametrize("data,msg", [({"wrkers": 1}, "unknown config key"), ({"workers": "two"}, "must be int"),
                                      ({"inner": {"nope": 1}}, "unknown config key"), ({"inner": 3}, "table")])
def test_bad_config_is_a_clear_error(data, msg):
    with pytest.raises(ConfigError, match=msg):
        from_dict(Outer, data)


def test_toml_round_trip(tmp_path):
    cfg = Outer(workers=2, inner=Inner(threshold=None, langs=("en",)))
    save_toml(cfg, tmp_path / "c.toml")
    assert from_dict(Outer, load_toml(tmp_path / "c.toml")) == cfg, "None survives as 'none'"
    (tmp_path / "bad.toml").write_text("workers = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
    assert tomllib.loads((tmp_path / "c.toml").read_text())["inner"]["threshold"] == "none"

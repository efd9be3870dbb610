"""Pulumi.yaml's config block and docs/config.md's key table are generated from the model."""

from __future__ import annotations

import pytest
import yaml
from pydantic import Field, SecretStr

from offline import config_files
from offline.stack_files import _DECLARED_TYPES
from railyard.config import declarations
from railyard.config.model import FIELDS_BY_KEY, PROJECT, StackConfig, full_key


class _WithWidgets(StackConfig):
    """The model with three keys more, as a contributor would add them."""

    widget_count: int = Field(
        default=3, alias=full_key("widgetCount"), description="Widgets per lane.", examples=[3]
    )
    widget_zones: list[str] = Field(
        alias=full_key("widgetZones"), description="Zones of the widgets.", examples=[["z1"]]
    )
    widget_token: SecretStr | None = Field(
        default=None,
        alias=full_key("widgetToken"),
        description="Token of the widget API.",
        json_schema_extra={"secret": True},
    )


def test_committed_files_are_what_the_model_generates():
    for path, expected in config_files.generated_files().items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} differs from railyard/config/model.py: run make config-files"
        )


def test_a_key_added_to_the_model_shows_up_in_pulumi_yaml_and_the_docs():
    text = config_files.with_pulumi_config(
        f"name: railyard\nmain: stacks/\n{declarations.PULUMI_MARKER}\nconfig: {{}}\n",
        _WithWidgets,
    )
    assert text.startswith(f"name: railyard\nmain: stacks/\n{declarations.PULUMI_MARKER}\n")
    project = yaml.safe_load(text)
    assert project["config"]["widgetCount"] == {
        "type": "integer",
        "default": 3,
        "description": "Widgets per lane.",
    }
    assert project["config"]["widgetZones"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "Zones of the widgets.",
    }
    assert "widgetToken" not in project["config"]  # a secret has no default: never declared

    docs = config_files.with_docs_table(
        f"prose\n{declarations.DOCS_BEGIN}\n| stale |\n{declarations.DOCS_END}\nmore prose\n",
        _WithWidgets,
    )
    assert docs.startswith("prose\n") and docs.endswith("\nmore prose\n")
    assert "| stale |" not in docs
    assert "| `railyard:widgetCount` | `3` | Widgets per lane. |" in docs
    assert "| `railyard:widgetZones` | required | Zones of the widgets. |" in docs
    assert "| `railyard:widgetToken` | unset (secret) | Token of the widget API. |" in docs


def test_declarations_use_types_the_offline_runner_checks_and_defaults_mean_the_same():
    declared = declarations.pulumi_declarations()
    public = {k for k, (_, f) in FIELDS_BY_KEY.items() if not declarations.is_secret(f)}
    assert {full_key(k) for k in declared} == {k for k in public if k.startswith(f"{PROJECT}:")}
    assert {d["type"] for d in declared.values()} <= set(_DECLARED_TYPES)

    # What `pulumi up` passes for a key the stack file leaves out must validate to the
    # model's own default.
    required = {k: f.examples[0] for k, (_, f) in FIELDS_BY_KEY.items() if f.is_required()}
    defaults = {full_key(k): d["default"] for k, d in declared.items() if "default" in d}
    config = StackConfig.model_validate(required | defaults)
    for key in defaults:
        name, field = FIELDS_BY_KEY[key]
        assert getattr(config, name) == field.get_default(call_default_factory=True), key


def test_a_field_pulumi_cannot_declare_is_refused_by_name():
    class WithRatio(StackConfig):
        ratio: float = Field(default=0.5, alias=full_key("ratio"), description="A ratio.")

    with pytest.raises(ValueError, match=r"railyard:ratio: Pulumi\.yaml cannot declare a number"):
        declarations.pulumi_declarations(WithRatio)


def test_a_lost_marker_is_refused_rather_than_guessed():
    with pytest.raises(config_files.MarkerError, match="put the key table between"):
        config_files.with_docs_table("| key | default | meaning |\n")
    with pytest.raises(config_files.MarkerError, match="above its config:"):
        config_files.with_pulumi_config("name: railyard\nconfig: {}\n")

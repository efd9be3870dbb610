"""The contracts between the stack and the runtime live once: the environment variables and
files in ``railyard_runtime.environment``, the board config in ``railyard_runtime.kanban.
board_config``, the node pools' label and taint in ``railyard.node_pools``. Both sides import
them; nothing else spells them, and every name the contract holds is one the runtime reads.
(What the stack actually writes is checked against these in tests/stack/test_contracts.py.)
"""

from __future__ import annotations

import ast
import json
import re
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

import pytest
from pydantic import ValidationError

from railyard_runtime import environment
from railyard_runtime.agent.settings import DEFAULT_BUILD_COMMAND
from railyard_runtime.environment import (
    AgentEnv,
    BridgeEnv,
    BuildEnv,
    FederationEnv,
    InstanceRoleEnv,
    StepsEnv,
)
from railyard_runtime.kanban.board_config import (
    BOARD_CONFIGS,
    GitHubProjectsConfig,
    JiraConfig,
    WebhookConfig,
)

ROOT = Path(__file__).resolve().parents[2]
CODE = [ROOT / d for d in ("components", "railyard", "stacks", "runtime/src")]
RUNTIME = ROOT / "runtime/src/railyard_runtime"
CONTRACT = RUNTIME / "environment.py"
NODE_POOLS = ROOT / "railyard/node_pools.py"

ENV_NAME = re.compile(r"(?<![A-Za-z0-9_])(?:RAILYARD|ALIBABA_CLOUD)_[A-Z0-9_]*")
POOL_LABEL_OR_TAINT = re.compile(r"railyard\.io/(?:pool|workflows)\b")
READ_BY_RAILYARD = (StepsEnv, FederationEnv, BridgeEnv, AgentEnv, BuildEnv)


def code_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the string literals of a module, f-strings' literal parts included;
    docstrings (string statements) are documentation, not code, and left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def spelled_outside(pattern: re.Pattern[str], home: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}"
        for root in CODE
        for path in sorted(root.rglob("*.py"))
        if path != home
        for line, text in code_strings(path)
        if pattern.search(text)
    ]


def test_no_environment_variable_name_is_spelled_outside_the_contract():
    """A name typed twice can drift apart; the stack and the runtime take it from one place."""
    assert spelled_outside(ENV_NAME, CONTRACT) == []


def test_no_pool_label_or_taint_is_spelled_outside_node_pools():
    assert spelled_outside(POOL_LABEL_OR_TAINT, NODE_POOLS) == []


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """Literal names, names inside messages and shell text, f-string parts; not docstrings."""
    module = tmp_path / "m.py"
    module.write_text(
        '"""Reads RAILYARD_DOC."""\n'
        'A = "RAILYARD_PLAIN"\n'
        'B = f"{A}: use ALIBABA_CLOUD_ROLE_ARN"\n'
        "C = 'git fetch \"$RAILYARD_REPO\"'\n"
        'D = {"railyard.io/pool": "system"}\n'
        'E = "NOT_RAILYARD_X railyard.io/env"\n'
    )
    found = {text for _, text in code_strings(module) if ENV_NAME.search(text)}
    assert found == {"RAILYARD_PLAIN", ": use ALIBABA_CLOUD_ROLE_ARN", 'git fetch "$RAILYARD_REPO"'}
    assert [t for _, t in code_strings(module) if POOL_LABEL_OR_TAINT.search(t)] == [
        "railyard.io/pool"
    ]


def _references(root: Path, skip: Path) -> set[tuple[str, str]]:
    """(class, attribute) of every ``Class.ATTRIBUTE`` in the modules under ``root``."""
    found = set()
    for path in root.rglob("*.py"):
        if path == skip:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                found.add((node.value.id, node.attr))
    return found


@pytest.mark.parametrize("group", READ_BY_RAILYARD, ids=lambda g: g.__name__)
def test_every_name_in_the_contract_is_used_by_the_runtime(group):
    """A name the runtime no longer reads fails here until it leaves the contract, and then the
    stack cannot write it (tests/stack/test_contracts.py checks what it writes against it)."""
    used = _references(RUNTIME, skip=CONTRACT)
    assert [m.name for m in group if (group.__name__, m.name) not in used] == []


def test_the_instance_role_names_are_read_by_the_alibaba_credentials_sdk():
    spec = find_spec("alibabacloud_credentials")
    assert spec is not None and spec.submodule_search_locations
    sdk = "".join(
        p.read_text() for d in spec.submodule_search_locations for p in Path(d).rglob("*.py")
    )
    assert [m.value for m in InstanceRoleEnv if f"'{m.value}'" not in sdk] == []


def test_every_name_the_agent_unit_sets_is_an_agent_setting():
    unit = resources.files("railyard_runtime.agent").joinpath("railyard-agent.service")
    lines = unit.read_text().splitlines()
    names = [line.split("=", 2)[1] for line in lines if line.startswith("Environment=")]
    assert names and set(names) <= set(AgentEnv)
    assert f"EnvironmentFile={environment.AGENT_ENV_FILE}" in lines


def test_the_build_command_gets_the_names_the_default_one_uses():
    for name in (BuildEnv.ANDROID_REPO, BuildEnv.COMMIT):
        assert f'"${name}"' in DEFAULT_BUILD_COMMAND
    assert BuildEnv.ANDROID_REPO == AgentEnv.ANDROID_REPO  # passed through as it is


BOARDS = [
    WebhookConfig(url="https://kanban.example.com"),
    GitHubProjectsConfig(project_id="PVT_1", status_field_id="PVTSSF_2", options={"Done": "o1"}),
    JiraConfig(base_url="https://acme.atlassian.net", email="bot@x.io", transitions={"Done": "31"}),
]


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: type(b).__name__)
def test_the_board_config_the_stack_writes_is_the_one_the_bridge_reads(board):
    document = json.loads(board.to_json())
    assert type(board).from_document(document) == board
    assert type(board) in BOARD_CONFIGS.values()


def test_the_bridge_reads_camel_case_keys_only():
    """Python names build the model on the stack's side; in the file they are typos."""
    with pytest.raises(ValidationError, match="base_url"):
        JiraConfig.from_document(
            {"base_url": "https://acme.atlassian.net", "email": "a@b.c", "transitions": {"a": "1"}}
        )
    with pytest.raises(ValidationError, match="colour"):
        WebhookConfig(url="https://kanban.example.com", colour="red")

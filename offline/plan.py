"""Offline plan: run the real stack program under mocks and show what it would register.

    python -m offline.plan dev
    python -m offline.plan prod --json
    python -m offline.plan dev --set railyard:awsNatGateways=perAz
    python -m offline.plan prod --diagram docs/stack-prod.svg
    python -m offline.plan prod --bootstrap       # the first `pulumi up` of a private cluster

Nothing is deployed and no cloud or Pulumi CLI is needed. The policy pack (policy/) judges
what the program registered. Exit status: 0 plan shown and no mandatory policy violation,
3 a mandatory policy violation, 2 bad config or arguments (every problem is listed with its
key and fix), 1 the program failed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.tree import Tree

from offline.picture import DiagramError, build_graph, write
from offline.policies import DEFAULT_POLICY_CONFIG, Verdict, evaluate, load_policy_config
from offline.recorder import OfflinePlan, RegisteredResource
from offline.runner import run_offline
from railyard.config import ConfigError, yaml_text

EXIT_POLICY_VIOLATION = 3

app = typer.Typer(
    add_completion=False, help=__doc__, rich_markup_mode=None, pretty_exceptions_enable=False
)


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or ":" not in key:
            raise typer.BadParameter(
                f"{pair!r}: expected KEY=VALUE with a full key, "
                "e.g. railyard:awsNatGateways=single",
                param_hint="--set",
            )
        # YAML scalars/lists, as in a stack file: 3 -> int, [a, b] -> list; empty -> unset
        try:
            overrides[key] = yaml_text.load(raw, f"--set {key}") if raw else None
        except yaml_text.YamlInputError as e:
            raise typer.BadParameter(str(e), param_hint="--set") from None
    return overrides


def _label(r: RegisteredResource) -> str:
    label = f"[bold]{r.type}[/bold]  {r.name}"
    if r.secret_paths:
        label += f"  [yellow](secret: {', '.join(sorted(set(r.secret_paths)))})[/yellow]"
    return label


def render_tree(plan: OfflinePlan) -> Tree:
    """Components with their children; resources sorted by type then name."""
    tree = Tree(f"[bold cyan]stack {plan.stack}[/bold cyan]")

    def add(node: Tree, parent: RegisteredResource | None) -> None:
        for r in sorted(plan.children(parent) if parent else _roots(plan), key=_order):
            branch = node.add(_label(r))
            if not r.custom:
                add(branch, r)

    add(tree, None)
    return tree


def _roots(plan: OfflinePlan) -> list[RegisteredResource]:
    urns = {r.urn for r in plan.resources}
    return [r for r in plan.resources if r.parent not in urns]


def _order(r: RegisteredResource) -> tuple[int, str, str]:
    # providers first, then components, then plain resources
    rank = 0 if r.type.startswith("pulumi:providers:") else 1 if not r.custom else 2
    return rank, r.type, r.name


def type_counts(plan: OfflinePlan) -> Counter[str]:
    return Counter(r.type for r in plan.resources)


def verdict_table(plan: OfflinePlan, verdicts: list[Verdict]) -> Table:
    by_urn = {r.urn: r for r in plan.resources}
    table = Table(title="policy violations", show_lines=True)
    for column in ("level", "policy", "resource", "violation"):
        table.add_column(column)
    for v in sorted(verdicts, key=lambda v: (not v.mandatory, v.policy, v.urn)):
        r = by_urn.get(v.urn)
        where = f"{r.type}\n{r.name}" if r else "(stack)"
        style = "bold red" if v.mandatory else "yellow"
        table.add_row(f"[{style}]{v.enforcement}[/{style}]", v.policy, where, v.message)
    return table


KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def bootstrap_command(plan: OfflinePlan) -> str:
    """The first ``pulumi up`` of a stack whose API endpoint is private.

    Everything but the cluster's Kubernetes objects: the networks, the VPN, the cluster, its
    node group and the in-VPC deploy runner. Excluding the Kubernetes provider with its
    dependents leaves out exactly the objects that need the (not yet reachable) API; the next
    full ``pulumi up``, on the runner, creates them.
    """
    (provider,) = [r.urn for r in plan.resources if r.type == KUBERNETES_PROVIDER]
    return (
        f"pulumi up -s {plan.stack} --exclude '{provider}' --exclude-dependents "
        "--policy-pack policy --policy-pack-config policy/config.json"
    )


def as_json(plan: OfflinePlan, verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        "offline": True,
        "stack": plan.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "secretInputs": sorted(set(r.secret_paths)),
            }
            for r in plan.resources
        ],
        "countsByType": dict(sorted(type_counts(plan).items())),
        "outputs": plan.outputs,
        "policyViolations": [
            {"policy": v.policy, "enforcement": v.enforcement, "urn": v.urn, "message": v.message}
            for v in verdicts
        ],
    }


@app.command()
def plan(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    set_: Annotated[
        list[str],
        typer.Option("--set", help="Override a config value, KEY=VALUE (repeatable)."),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    as_json_: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    policy_config: Annotated[
        Path,
        typer.Option(help="Policy pack config (the file `--policy-pack-config` takes)."),
    ] = DEFAULT_POLICY_CONFIG,
    diagram: Annotated[
        list[Path],
        typer.Option(help="Also write a picture of the stack: .mmd, .dot, .svg or .png."),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    bootstrap: Annotated[
        bool,
        typer.Option(
            "--bootstrap",
            help="Print the first `pulumi up` of a stack with a private API endpoint "
            "(everything but the Kubernetes objects) and exit.",
        ),
    ] = False,
) -> None:
    """Run the stack program offline for STACK, judge it with the policy pack, print it."""
    console = Console(stderr=as_json_)
    try:
        settings = load_policy_config(policy_config)
        result = run_offline(stack, _parse_overrides(set_))
    except ConfigError as e:
        # printed literally: keys like `x[0]` and values holding `[...]` are not markup
        console.print(
            f"[bold red]Stack {escape(stack)}: {escape(str(e))}[/bold red]", highlight=False
        )
        raise typer.Exit(2) from None
    if bootstrap:
        typer.echo(bootstrap_command(result))
        return
    verdicts = evaluate(result, settings)
    mandatory = sum(v.mandatory for v in verdicts)
    try:
        graph = build_graph(result) if diagram else None
        written = [write(graph, path) for path in diagram]
    except DiagramError as e:
        console.print(f"[bold red]--diagram: {escape(str(e))}[/bold red]", highlight=False)
        raise typer.Exit(2) from None

    if as_json_:
        typer.echo(json.dumps(as_json(result, verdicts), indent=2, default=str))
        raise typer.Exit(EXIT_POLICY_VIOLATION if mandatory else 0)
    console.print(
        Panel(
            f"OFFLINE PLAN of stack [bold]{stack}[/bold]: "
            "the real program ran under Pulumi mocks.\n"
            "Nothing was deployed; computed values (IDs, IPs) are placeholders.\n"
            f"To deploy for real: pulumi up -s {stack}",
            border_style="yellow",
        )
    )
    console.print(render_tree(result), highlight=False)
    table = Table(title=f"{len(result.resources)} resources by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_token, count in sorted(type_counts(result).items()):
        table.add_row(type_token, str(count))
    console.print(table)
    secrets = sum(1 for r in result.resources if r.secret_paths)
    console.print(f"{secrets} resources receive secret inputs; none is shown in plaintext.")
    for path in written:
        console.print(f"Diagram written to {path}")
    if verdicts:
        console.print(verdict_table(result, verdicts))
    console.print(
        f"Policy pack: {mandatory} mandatory and {len(verdicts) - mandatory} advisory "
        f"violations ({policy_config})."
    )
    if mandatory:
        raise typer.Exit(EXIT_POLICY_VIOLATION)


if __name__ == "__main__":
    app()

"""The site-to-site VPN: one identical IKE/IPsec proposal on both clouds, both tunnels up, BGP.

Reads the proposals back with the same code that renders them (``railyard.ipsec``), so the
policy and the program cannot disagree about what a proposal is.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, StackValidationArgs

from railyard.ipsec import ALIBABA_ROLES, IpsecProposal, proposal_from_alibaba, proposal_from_aws
from railyard_policy.support import get, stack_policy

AWS_CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
ALIBABA_CONNECTION = "alicloud:vpn/connection:Connection"


def _aws(connection: PolicyResource) -> Iterator[tuple[str, IpsecProposal | str]]:
    if get(connection.props, "staticRoutesOnly") is True:
        yield "staticRoutesOnly", "is true; both sides run BGP (set false)"
    for tunnel in (1, 2):
        try:
            yield f"tunnel{tunnel}", proposal_from_aws(connection.props, tunnel)
        except (ValueError, KeyError, TypeError) as e:
            yield f"tunnel{tunnel}", f"has no single, complete proposal ({e})"


def _alibaba(connection: PolicyResource) -> Iterator[tuple[str, IpsecProposal | str]]:
    if get(connection.props, "enableTunnelsBgp") is not True:
        yield "enableTunnelsBgp", "must be true (AWS side runs BGP)"
    tunnels = list(get(connection.props, "tunnelOptionsSpecifications") or ())
    roles = sorted(str(get(t, "role")) for t in tunnels)
    if roles != sorted(ALIBABA_ROLES):
        yield "tunnelOptionsSpecifications", f"has roles {roles}; needs one master and one slave"
    for i, t in enumerate(tunnels):
        where = f"tunnelOptionsSpecifications[{i}]"
        try:
            yield (
                where,
                proposal_from_alibaba(get(t, "tunnelIkeConfig"), get(t, "tunnelIpsecConfig")),
            )
        except (ValueError, KeyError, TypeError) as e:
            yield where, f"has no complete proposal ({e})"


def check(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    seen: list[tuple[PolicyResource, str, IpsecProposal]] = []
    for r in args.resources:
        read = _aws if r.resource_type == AWS_CONNECTION else None
        read = _alibaba if r.resource_type == ALIBABA_CONNECTION else read
        if read is None:
            continue
        for where, found in read(r):
            if isinstance(found, str):
                yield r.urn, f"{r.name}: {where} {found}"
            else:
                seen.append((r, where, found))
    if not seen:
        return
    reference = seen[0][2]
    for r, where, proposal in seen[1:]:
        if proposal != reference:
            yield (
                r.urn,
                (
                    f"{r.name}: {where} proposes {proposal}, but {seen[0][0].name} "
                    f"{seen[0][1]} proposes {reference}; render both sides from one IpsecProposal"
                ),
            )


POLICY = stack_policy(
    "vpn-identical-proposals",
    "Both clouds' VPN sides use one identical IKE/IPsec proposal, two tunnels each, and BGP.",
    check,
)

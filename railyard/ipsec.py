"""The site-to-site VPN in numbers: the one IKE/IPsec proposal, tunnel inside /30s, ASNs, PSKs.

Pure, no Pulumi. Both clouds' resources are rendered from the same ``IpsecProposal`` so the two
sides cannot drift, and ``proposal_from_aws`` / ``proposal_from_alibaba`` read a rendered side
back so tests (and policies) can check that what was registered is one identical proposal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network

# --- Limits (AWS Site-to-Site VPN and Alibaba VPN Gateway documentation) ---------------------
LINK_LOCAL = IPv4Network("169.254.0.0/16")
# Refused as tunnel inside CIDRs, and by whom.
RESERVED_INSIDE = {
    IPv4Network("169.254.0.0/22"): "AWS and Alibaba Cloud",
    IPv4Network("169.254.4.0/23"): "AWS and Alibaba Cloud",  # with the above: 169.254.0.0-5.255
    IPv4Network("169.254.6.0/30"): "Alibaba Cloud",  # CreateVpnConnection TunnelCidr
    IPv4Network("169.254.169.252/30"): "AWS and Alibaba Cloud",
}
PRIVATE_ASN_MIN, PRIVATE_ASN_MAX = 64512, 65534
RESERVED_ASNS = {7224: "reserved by AWS", 45104: "Alibaba Cloud's own ASN"}
PHASE1_LIFETIME_RANGE = (900, 28800)  # AWS maximum; Alibaba's 86400 default would be refused
PHASE2_LIFETIME_RANGE = (900, 3600)
PSK_PATTERN = re.compile(r"[A-Za-z0-9._]{8,64}")  # AWS: alphanumerics, '.', '_'; 8-64 chars
ALIBABA_VPN_BANDWIDTHS_MBPS = (5, 10, 20, 50, 100, 200, 500, 1000)

TUNNEL_COUNT = 4  # 2 AWS VPN connections x 2 tunnels


# --- The proposal ----------------------------------------------------------------------------
_AWS_ENCRYPTION = {"aes128": "AES128", "aes256": "AES256"}
_AWS_INTEGRITY = {"sha1": "SHA1", "sha256": "SHA2-256", "sha384": "SHA2-384", "sha512": "SHA2-512"}


@dataclass(frozen=True)
class IpsecProposal:
    """One IKE + IPsec proposal, in neutral names; both sides are rendered from it."""

    ike_version: str = "ikev2"
    encryption: str = "aes256"
    integrity: str = "sha256"
    dh_group: int = 14
    phase1_lifetime_seconds: int = 28800
    phase2_lifetime_seconds: int = 3600

    def aws_tunnel_args(self, tunnel: int) -> dict[str, object]:
        """Arguments of ``aws.ec2.VpnConnection`` for tunnel 1 or 2: one choice per setting."""
        p = f"tunnel{tunnel}_"
        return {
            p + "ike_versions": [self.ike_version],
            p + "phase1_encryption_algorithms": [_AWS_ENCRYPTION[self.encryption]],
            p + "phase1_integrity_algorithms": [_AWS_INTEGRITY[self.integrity]],
            p + "phase1_dh_group_numbers": [self.dh_group],
            p + "phase1_lifetime_seconds": self.phase1_lifetime_seconds,
            p + "phase2_encryption_algorithms": [_AWS_ENCRYPTION[self.encryption]],
            p + "phase2_integrity_algorithms": [_AWS_INTEGRITY[self.integrity]],
            p + "phase2_dh_group_numbers": [self.dh_group],
            p + "phase2_lifetime_seconds": self.phase2_lifetime_seconds,
        }

    def alibaba_ike_config(self) -> dict[str, object]:
        """``tunnel_ike_config`` of an Alibaba tunnel, without the PSK."""
        return {
            "ike_version": self.ike_version,
            "ike_mode": "main",
            "ike_enc_alg": self.encryption,
            "ike_auth_alg": self.integrity,
            "ike_pfs": f"group{self.dh_group}",
            "ike_lifetime": self.phase1_lifetime_seconds,
        }

    def alibaba_ipsec_config(self) -> dict[str, object]:
        """``tunnel_ipsec_config`` of an Alibaba tunnel."""
        return {
            "ipsec_enc_alg": self.encryption,
            "ipsec_auth_alg": self.integrity,
            "ipsec_pfs": f"group{self.dh_group}",
            "ipsec_lifetime": self.phase2_lifetime_seconds,
        }


def _only(values: Sequence[object], what: str) -> object:
    if len(values) != 1:
        raise ValueError(f"{what}: expected exactly one choice, got {list(values)}")
    return values[0]


def _reverse(table: Mapping[str, str], value: object, what: str) -> str:
    for neutral, named in table.items():
        if named == value:
            return neutral
    raise ValueError(f"{what}: unknown value {value!r}")


def proposal_from_aws(args: Mapping[str, object], tunnel: int) -> IpsecProposal:
    """Read the proposal back from a VPN connection's inputs (snake_case or camelCase keys)."""

    def get(name: str) -> object:
        snake = f"tunnel{tunnel}_{name}"
        camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), snake)
        if snake in args:
            return args[snake]
        if camel in args:
            return args[camel]
        raise ValueError(f"{snake} is not set")

    p1_enc = _only(get("phase1_encryption_algorithms"), "phase 1 encryption")
    p2_enc = _only(get("phase2_encryption_algorithms"), "phase 2 encryption")
    p1_int = _only(get("phase1_integrity_algorithms"), "phase 1 integrity")
    p2_int = _only(get("phase2_integrity_algorithms"), "phase 2 integrity")
    p1_dh = _only(get("phase1_dh_group_numbers"), "phase 1 DH group")
    p2_dh = _only(get("phase2_dh_group_numbers"), "phase 2 DH group")
    if (p1_enc, p1_int, p1_dh) != (p2_enc, p2_int, p2_dh):
        raise ValueError("phase 1 and phase 2 use different algorithms")
    return IpsecProposal(
        ike_version=str(_only(get("ike_versions"), "IKE version")),
        encryption=_reverse(_AWS_ENCRYPTION, p1_enc, "encryption"),
        integrity=_reverse(_AWS_INTEGRITY, p1_int, "integrity"),
        dh_group=int(p1_dh),
        phase1_lifetime_seconds=int(get("phase1_lifetime_seconds")),
        phase2_lifetime_seconds=int(get("phase2_lifetime_seconds")),
    )


def proposal_from_alibaba(ike: Mapping[str, object], ipsec: Mapping[str, object]) -> IpsecProposal:
    """Read the proposal back from an Alibaba tunnel's IKE and IPsec configs."""

    def get(d: Mapping[str, object], name: str) -> object:
        camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
        return d[name] if name in d else d[camel]

    if (get(ike, "ike_enc_alg"), get(ike, "ike_auth_alg"), get(ike, "ike_pfs")) != (
        get(ipsec, "ipsec_enc_alg"),
        get(ipsec, "ipsec_auth_alg"),
        get(ipsec, "ipsec_pfs"),
    ):
        raise ValueError("IKE and IPsec phases use different algorithms")
    pfs = str(get(ike, "ike_pfs"))
    if not pfs.startswith("group"):
        raise ValueError(f"unknown DH group {pfs!r}")
    return IpsecProposal(
        ike_version=str(get(ike, "ike_version")),
        encryption=str(get(ike, "ike_enc_alg")),
        integrity=str(get(ike, "ike_auth_alg")),
        dh_group=int(pfs.removeprefix("group")),
        phase1_lifetime_seconds=int(get(ike, "ike_lifetime")),
        phase2_lifetime_seconds=int(get(ipsec, "ipsec_lifetime")),
    )


# --- Tunnels ---------------------------------------------------------------------------------
ALIBABA_GATEWAY_IPS = ("internet_ip", "disaster_recovery_internet_ip")
# A master tunnel leaves from internet_ip, a slave from the disaster-recovery IP.
ALIBABA_ROLES = ("master", "slave")


@dataclass(frozen=True)
class TunnelPlan:
    """One IPsec tunnel, as both clouds see it.

    AWS has one VPN connection per Alibaba gateway IP (``aws_connection`` 0 answers
    ``internet_ip``, 1 answers ``disaster_recovery_internet_ip``), each with tunnels 1 and 2.
    Alibaba has two dual-tunnel IPsec connections; connection ``k`` carries AWS tunnel ``k + 1``
    of both AWS connections. Its *master* tunnel leaves from ``internet_ip`` so it must pair with
    the AWS connection whose customer gateway is that IP; its *slave* with the other.
    """

    index: int
    aws_connection: int
    aws_tunnel: int
    inside_cidr: IPv4Network

    @property
    def alibaba_connection(self) -> int:
        return self.aws_tunnel - 1

    @property
    def alibaba_role(self) -> str:
        return ALIBABA_ROLES[self.aws_connection]

    @property
    def alibaba_gateway_ip(self) -> str:
        """Which output of the Alibaba VPN gateway this tunnel leaves from."""
        return ALIBABA_GATEWAY_IPS[self.aws_connection]

    @property
    def aws_inside_ip(self) -> str:
        """AWS takes the first host of the /30 (``tunnelN_vgw_inside_address``)."""
        return str(self.inside_cidr.network_address + 1)

    @property
    def alibaba_inside_ip(self) -> str:
        """The customer side gets the second host (``tunnelN_cgw_inside_address``)."""
        return str(self.inside_cidr.network_address + 2)


def plan_tunnels(inside_cidrs: Sequence[IPv4Network]) -> list[TunnelPlan]:
    """Tunnels in config order: AWS connection 0 tunnels 1, 2, then connection 1 tunnels 1, 2."""
    if len(inside_cidrs) != TUNNEL_COUNT:
        raise ValueError(f"need {TUNNEL_COUNT} tunnel inside CIDRs, got {len(inside_cidrs)}")
    return [
        TunnelPlan(index=i, aws_connection=i // 2, aws_tunnel=i % 2 + 1, inside_cidr=cidr)
        for i, cidr in enumerate(inside_cidrs)
    ]


def inside_cidr_problem(cidr: IPv4Network) -> str | None:
    """Why AWS or Alibaba Cloud would refuse this tunnel inside CIDR, or None."""
    if cidr.prefixlen != 30:
        return f"{cidr} is a /{cidr.prefixlen}; a tunnel inside CIDR is a /30"
    if not cidr.subnet_of(LINK_LOCAL):
        return f"{cidr} is outside {LINK_LOCAL}"
    for reserved, by in RESERVED_INSIDE.items():
        if cidr.overlaps(reserved):
            return f"{cidr} is in {reserved}, which {by} reserves"
    return None


def allocate_inside_cidrs(block: IPv4Network, count: int = TUNNEL_COUNT) -> list[IPv4Network]:
    """The first ``count`` usable /30s of ``block``, skipping the reserved ones."""
    if not block.subnet_of(LINK_LOCAL) or block.prefixlen > 30:
        raise ValueError(f"{block} must be a /30 or larger inside {LINK_LOCAL}")
    found = [c for c in block.subnets(new_prefix=30) if inside_cidr_problem(c) is None][:count]
    if len(found) < count:
        raise ValueError(f"{block} holds only {len(found)} usable /30s, need {count}")
    return found


def asn_problem(asn: int) -> str | None:
    """Why this ASN cannot be used on either side of the VPN, or None."""
    if asn in RESERVED_ASNS:
        return f"{asn} is {RESERVED_ASNS[asn]}"
    if not PRIVATE_ASN_MIN <= asn <= PRIVATE_ASN_MAX:
        return f"{asn} is not a private ASN ({PRIVATE_ASN_MIN}-{PRIVATE_ASN_MAX})"
    return None


def psk_problem(psk: str) -> str | None:
    """Why AWS or Alibaba would refuse this pre-shared key, or None. Never echoes the key."""
    if not 8 <= len(psk) <= 64:
        return f"is {len(psk)} characters long; a pre-shared key has 8 to 64"
    if psk.startswith("0"):
        return "starts with '0', which AWS refuses"
    if not PSK_PATTERN.fullmatch(psk):
        return "may only hold letters, digits, '.' and '_'"
    return None

"""Clients for the clouds, built one way for the steps and the agent.

AWS clients take the standard chain (IRSA in the cluster; ``AWS_ENDPOINT_URL`` points them at
a local stand-in in tests). OSS is reached through its S3-compatible API with the same S3
client code (Alibaba documents ``https://s3.oss-<region>[-internal].aliyuncs.com`` for AWS
SDKs), so one publisher serves both clouds.

Alibaba credentials are short-lived STS keys, never a stored key: release pods on EKS exchange
their projected service-account token for a RAM role's keys (``AssumeRoleWithOIDC``; the stack
sets ``ALIBABA_CLOUD_ROLE_ARN``, ``ALIBABA_CLOUD_OIDC_PROVIDER_ARN`` and
``ALIBABA_CLOUD_OIDC_TOKEN_FILE``); build hosts use their ECS RAM role (IMDSv2). Without the
OIDC variables the SDK's default chain applies (a developer's own keys or CLI profile).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os

import boto3
from botocore.config import Config as BotoConfig

from railyard_runtime import files
from railyard_runtime.environment import FederationEnv
from railyard_runtime.errors import BadInput, StepError, Unreachable

OIDC_ENV = (FederationEnv.ROLE_ARN, FederationEnv.OIDC_PROVIDER_ARN, FederationEnv.OIDC_TOKEN_FILE)
"""What OIDC federation needs, all three or none."""
SESSION_NAME = "railyard-steps"

# Retries and pool for every client; checksums only when an API demands them (OSS's S3 API
# rejects the newer default trailers).
_CLIENT_CONFIG = dict(
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"max_attempts": 8, "mode": "adaptive"},
    max_pool_connections=32,
)


def aws_client(service: str, region: str | None = None):
    """A client of ``service``, shared within the process by every caller with the same
    service, region and environment: clients are thread-safe, and building one costs more
    than many requests. Register event hooks only on a ``new_aws_client``."""
    return _shared_aws_client(service, region, _client_environment())


def new_aws_client(service: str, region: str | None = None):
    """A client of ``service`` of its own."""
    return boto3.client(service, region_name=region, config=BotoConfig(**_CLIENT_CONFIG))


@functools.lru_cache(maxsize=32)
def _shared_aws_client(service: str, region: str | None, environment: tuple):
    return new_aws_client(service, region)


_PROXY_ENV = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}


def _client_environment() -> tuple[tuple[str, str], ...]:
    """What a new client would read from the environment (endpoints, keys, profile, retries,
    proxies): a client built under other values is not shared."""
    return tuple(
        sorted(
            (k, v) for k, v in os.environ.items() if k.startswith("AWS_") or k.upper() in _PROXY_ENV
        )
    )


def oss_endpoint(region: str, internal: bool = False) -> str:
    return f"https://s3.oss-{region}{'-internal' if internal else ''}.aliyuncs.com"


def oss_client(region: str, endpoint: str | None = None):
    """An S3 client for OSS. ``endpoint`` overrides (a CNAME, or a local stand-in in tests).

    OSS wants virtual-hosted requests; a stand-in at an IP address needs path style. Call it
    per job: instance-role keys are short-lived STS keys, fetched fresh here; a client is
    shared, like ``aws_client``'s, only by calls that got the same keys.
    """
    endpoint = endpoint or oss_endpoint(region)
    keys = alibaba_keys(alibaba_credentials(region))
    return _shared_oss_client(
        region,
        endpoint,
        keys.access_key_id,
        keys.access_key_secret,
        keys.security_token or None,
        _client_environment(),
    )


@functools.lru_cache(maxsize=8)
def _shared_oss_client(
    region: str,
    endpoint: str,
    access_key_id: str,
    access_key_secret: str,
    security_token: str | None,
    environment: tuple,
):
    host = endpoint.split("://", 1)[-1].split(":")[0]
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=access_key_secret,
        aws_session_token=security_token,
        config=BotoConfig(
            **_CLIENT_CONFIG,
            signature_version="s3v4",
            s3={"addressing_style": "path" if _is_ip(host) else "virtual"},
        ),
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return True


def alibaba_openapi_config(region: str, endpoint_env: str, default_endpoint: str):
    """Config of an Alibaba OpenAPI (tea) client; ``endpoint_env`` points it elsewhere."""
    from alibabacloud_tea_openapi.models import Config

    endpoint = os.environ.get(endpoint_env) or default_endpoint
    scheme, _, host = endpoint.rpartition("://")
    return Config(
        credential=alibaba_credentials(region),
        region_id=region,
        endpoint=host,
        protocol=scheme or "https",
    )


def alibaba_credentials(region: str):
    """An Alibaba credentials client: OIDC federation when its variables are set, else the chain.

    The OIDC exchange is built here rather than left to the SDK's default chain so that the STS
    endpoint can be regional (or a stand-in) and a half-configured pod fails with a clear error
    instead of falling through to another credential source.
    """
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    role_arn, provider_arn, token_file = (os.environ.get(k, "") for k in OIDC_ENV)
    if not (role_arn or provider_arn or token_file):
        return Client()
    missing = [
        k for k, v in zip(OIDC_ENV, (role_arn, provider_arn, token_file), strict=True) if not v
    ]
    if missing:
        raise BadInput(
            f"{', '.join(missing)} not set: OIDC federation needs all of {', '.join(OIDC_ENV)}"
        )
    _check_token_file(token_file)
    return Client(
        Config(
            type="oidc_role_arn",
            role_arn=role_arn,
            oidc_provider_arn=provider_arn,
            oidc_token_file_path=token_file,
            role_session_name=os.environ.get(FederationEnv.ROLE_SESSION_NAME) or SESSION_NAME,
            sts_endpoint=os.environ.get(FederationEnv.STS_ENDPOINT) or f"sts.{region}.aliyuncs.com",
            timeout=10_000,
            connect_timeout=5_000,
        )
    )


MAX_TOKEN_BYTES = 64 * 1024  # a service-account JWT is a few KiB


def _check_token_file(path: str) -> None:
    """The projected token: a regular file holding one ASCII JWT, or a named error."""
    fix = "Fix: mount the projected service-account token there (audience sts.aliyuncs.com)"
    key = FederationEnv.OIDC_TOKEN_FILE
    try:
        token = files.read_regular(path, MAX_TOKEN_BYTES).strip()
    except files.FileRefused as e:
        raise BadInput(f"{key}: {path[:200]} {e.problem}. {fix}") from None
    if not token or not token.isascii() or len(token.split(b".")) != 3:
        raise BadInput(f"{key}: {path[:200]} does not hold a JWT (header.payload.signature). {fix}")


def alibaba_keys(credentials):
    """The current key pair (and STS token), or a clear error when STS refuses or is away."""
    from alibabacloud_credentials.exceptions import CredentialException
    from Tea.exceptions import RetryError, TeaException

    # the SDK logs each failed refresh with its traceback; the error below says it once
    logging.getLogger("credentials").setLevel(logging.CRITICAL)
    try:
        return credentials.get_credential()
    except CredentialException as e:
        if "http_code" in str(e):  # STS answered: a refusal (trust policy, audience, token)
            raise StepError(
                f"Alibaba credentials: STS refused the exchange: {e}. Fix: the RAM role's trust "
                "policy must name this issuer, audience sts.aliyuncs.com and this service account"
            ) from e
        raise Unreachable(f"Alibaba credentials: {e}") from e
    except (OSError, RetryError, TeaException) as e:  # connection refused, DNS, timeouts
        raise Unreachable(f"Alibaba credentials: STS out of reach: {e}") from e

"""Clients for the clouds, built one way for the steps and the agent.

AWS clients take the standard chain (IRSA in the cluster; ``AWS_ENDPOINT_URL`` points them at
a local stand-in in tests). OSS is reached through its S3-compatible API with the same S3
client code (Alibaba documents ``https://s3.oss-<region>[-internal].aliyuncs.com`` for AWS
SDKs), so one publisher serves both clouds. Alibaba credentials come from the Alibaba
credential chain: environment keys, or the ECS instance's RAM role (IMDSv2 on build hosts).
"""

from __future__ import annotations

import ipaddress
import os

import boto3
from botocore.config import Config as BotoConfig

# Retries and pool for every client; checksums only when an API demands them (OSS's S3 API
# rejects the newer default trailers).
_CLIENT_CONFIG = dict(
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"max_attempts": 8, "mode": "adaptive"},
    max_pool_connections=32,
)


def aws_client(service: str, region: str | None = None):
    return boto3.client(service, region_name=region, config=BotoConfig(**_CLIENT_CONFIG))


def oss_endpoint(region: str, internal: bool = False) -> str:
    return f"https://s3.oss-{region}{'-internal' if internal else ''}.aliyuncs.com"


def oss_client(region: str, endpoint: str | None = None):
    """An S3 client for OSS. ``endpoint`` overrides (a CNAME, or a local stand-in in tests).

    OSS wants virtual-hosted requests; a stand-in at an IP address needs path style. Build a
    client per job: instance-role keys are short-lived STS keys, fetched fresh here.
    """
    from alibabacloud_credentials.client import Client as CredentialClient

    endpoint = endpoint or oss_endpoint(region)
    host = endpoint.split("://", 1)[-1].split(":")[0]
    keys = CredentialClient().get_credential()
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.access_key_secret,
        aws_session_token=keys.security_token or None,
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
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_tea_openapi.models import Config

    endpoint = os.environ.get(endpoint_env) or default_endpoint
    scheme, _, host = endpoint.rpartition("://")
    return Config(
        credential=CredentialClient(),
        region_id=region,
        endpoint=host,
        protocol=scheme or "https",
    )

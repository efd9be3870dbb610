"""The pipeline-steps image: built from ``runtime/`` and pushed to ECR by the stack.

The workflow templates run it as ``<repository>@<digest>`` (``image_ref``), never by tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from railyard.image_context import content_tag


@dataclass
class StepsImageArgs:
    repository_url: pulumi.Input[str]
    """ECR repository URL (``<account>.dkr.ecr.<region>.amazonaws.com/railyard/steps``)."""
    registry_id: pulumi.Input[str]
    """Account of that registry (for the push credentials)."""
    context_dir: Path
    """The runtime package: Dockerfile, requirements.txt, pyproject.toml, src/."""
    version: str
    """Runtime version; with a content hash it is the image tag."""
    platform: str = "linux/amd64"
    """What the EKS nodes run."""


class StepsImage(pulumi.ComponentResource):
    image_ref: pulumi.Output[str]
    """``<repository>@sha256:<digest>``: known once the image is pushed."""

    def __init__(self, name: str, args: StepsImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("railyard:delivery:StepsImage", name, None, opts)
        repository_url = pulumi.Output.from_input(args.repository_url)
        token = aws.ecr.get_authorization_token_output(
            registry_id=args.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        tag = content_tag(args.context_dir, args.version)
        image = docker_build.Image(
            name,
            context=docker_build.BuildContextArgs(location=str(args.context_dir)),
            dockerfile=docker_build.DockerfileArgs(location=str(args.context_dir / "Dockerfile")),
            platforms=[docker_build.Platform(args.platform)],
            tags=[pulumi.Output.concat(repository_url, ":", tag)],
            push=True,
            registries=[
                docker_build.RegistryArgs(
                    address=repository_url.apply(lambda url: url.split("/", 1)[0]),
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                )
            ],
            # PR previews need no Docker daemon; the digest is known after `pulumi up`.
            build_on_preview=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.image_ref = pulumi.Output.concat(repository_url, "@", image.digest)
        self.register_outputs({"image_ref": self.image_ref})

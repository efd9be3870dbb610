"""Pulumi components: each owns its resources (children ``parent=self``) and registers outputs."""

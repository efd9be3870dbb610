"""Pure logic of railyard: typed stack config, CIDR plans, IPsec/VPN plans.

Nothing in this package registers a Pulumi resource; it is tested without mocks.
"""

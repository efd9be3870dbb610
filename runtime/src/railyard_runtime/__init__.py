"""railyard's runtime: what runs inside the release pipeline and on the Android build hosts.

No Pulumi here: the stack builds this package into the steps image and installs it on the
build hosts; the workflow templates call its commands.
"""

__version__ = "0.1.0"

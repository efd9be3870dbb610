"""The stack program: ``program.py`` composes the components, ``__main__.py`` is what
``pulumi up`` runs. The offline tooling around it is the ``offline`` package."""

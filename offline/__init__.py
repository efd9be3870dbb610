"""Offline tooling around the stack program: run it under mocks and look at what it registers.

``runner`` runs the real program (``stacks.program``) with the config of ``stack_files``, the
``mocks`` and a ``recorder``; on that recording ``plan`` (the CLI of ``make plan``), the policy
pack (``policies``), the stack picture (``picture``) and the object dumps (``argo_objects``,
``k8s_objects``) do their work. Nothing here deploys, and the program never imports it.
"""

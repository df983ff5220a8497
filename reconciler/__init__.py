"""Declarative, GitOps-style reconciler for Mixpanel organization access over SCIM 2.0.

What it is for: keep an org's users and teams equal to YAML manifests in git, the
way octodns keeps DNS and Terraform keeps infrastructure: read the live state,
plan (a frozen, serialisable value), show it, and apply it only when asked.

The layers, top to bottom (an import never runs back up a layer):

- ``cli`` and ``commands/``: parse flags into options, call one function, map errors
  to exit codes. The only code that prints, with the renderers.
- ``workflow``, ``doctor``, ``importer``, ``report``: orchestration (read, plan, apply).
- ``executor``: the only code that writes to the server (through ``ScimWriter``).
- ``reader``, ``evidence``, ``verify``: read the live state through narrow protocols.
- ``diff``, ``planner``, ``plan``, ``guards``, ``staleness``, ``manifest/``: pure, no I/O.
- ``render/``: words for people; ``scim/``: the only HTTP; ``profile``: what is Mixpanel's.
- ``sandbox``: only an alias of ``scim_sandbox``, the local SCIM server for the demo and
  the tests (its own top-level package, shipped alongside), never for production.

Must not: print outside the CLI and the renderers, talk HTTP outside ``scim/``,
write to the server outside ``executor``, or let a token reach any output.
"""

__version__ = "0.1.0"

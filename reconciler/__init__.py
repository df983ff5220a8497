"""Declarative, GitOps-style reconciler for Mixpanel organization access over SCIM 2.0."""

__version__ = "0.1.0"

"""The narrow slices of the SCIM client each layer is allowed to use.

In the manner of Peribolos's per-step client interfaces: the reader, doctor and
verification get read-only protocols, and only the executor is handed a
``ScimWriter``, so a layer that should not write *cannot* (mypy refuses the call),
and tests can pass a small fake that implements just its slice. ``ScimClient``
implements all of them (``tests/scim/test_protocols.py`` holds it to that).

Types only: no behaviour, no I/O. Must not grow a method that only one caller needs
without that caller's protocol being the one that grows.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from reconciler.livestate import LiveGroup, LiveUser
from reconciler.scim.client import Creation
from reconciler.scim.parse import ListPage

__all__ = ["ResourceReader", "ScimProbe", "ScimReader", "ScimWriter"]


@runtime_checkable
class ResourceReader(Protocol):
    """One resource by id; ``purpose`` labels the request in the stats (apply's read-back).

    Both raise ScimNotFound when the resource does not exist.
    """

    def get_user(self, user_id: str, *, purpose: str = "") -> LiveUser: ...
    def get_group(self, group_id: str, *, purpose: str = "") -> LiveGroup: ...


@runtime_checkable
class ScimReader(ResourceReader, Protocol):
    """What reading the live state needs: the listings, one team, the confirming lookups.

    ``byte_budget`` bounds the bytes every answer inside it may total (None: the
    configured budget). ``confirm_*`` are the reads that prove what a listing left out
    (``reconciler.evidence``).
    """

    def list_users_page(self, start_index: int, count: int) -> ListPage: ...
    def list_groups_page(
        self, start_index: int, count: int, *, with_members: bool = False
    ) -> ListPage: ...
    def byte_budget(self, limit: int | None = None) -> AbstractContextManager[object]: ...
    def confirm_user_name(self, user_name: str) -> LiveUser | None: ...
    def confirm_user_id(self, user_id: str) -> tuple[LiveUser, frozenset[str] | None] | None: ...
    def confirm_group_name(self, name: str) -> LiveGroup | None: ...


@runtime_checkable
class ScimProbe(ScimReader, Protocol):
    """What ``reconciler doctor`` needs: the reads plus the server's declared features."""

    def service_provider_config(self) -> dict[str, Any]: ...


@runtime_checkable
class ScimWriter(ResourceReader, Protocol):
    """The only slice that writes: apply's creates, patches and deletes, and the reads
    that verify them. Only ``reconciler.executor`` takes one."""

    # dict, not Mapping: the executor passes the builders' dicts, and a fake written
    # against ``dict`` still satisfies the protocol.
    def create_or_adopt_user(self, resource: dict[str, Any]) -> Creation[LiveUser]: ...
    def patch_user(self, user_id: str, patch: dict[str, Any]) -> LiveUser | None: ...
    def delete_user(self, user_id: str) -> None: ...
    def create_or_adopt_group(self, resource: dict[str, Any]) -> Creation[LiveGroup]: ...
    def patch_group(self, group_id: str, patch: dict[str, Any]) -> LiveGroup | None: ...
    def delete_group(self, group_id: str) -> None: ...

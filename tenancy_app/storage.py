"""Media files per tenant: every name is stored under the active schema's prefix.

:class:`TenantPrefixedStorage` is a mixin for any Django storage backend;
:class:`TenantFileSystemStorage` is it on ``FileSystemStorage``, so a tenant's files
live in ``MEDIA_ROOT/<schema>/`` and are served from ``MEDIA_URL/<schema>/``. Names
the application handles (``FileField`` values, ``storage.open(name)``) stay relative
to the tenant: ``uploads/a.pdf`` is ``acme/uploads/a.pdf`` in acme's context and
``globex/uploads/a.pdf`` in globex's. Outside any tenant the prefix is the public
schema's name.

A name that is absolute or has a ``..`` part is refused (``SuspiciousFileOperation``)
before the backend sees it, so no name reaches another tenant's files.

The files follow the tenant's schema: ``rename_tenant`` moves them to the new prefix,
``delete_tenant`` deletes them when it drops the schema (not with ``drop=False``). Both
happen after the change commits, in every storage of ``settings.STORAGES`` that is
tenant-prefixed (:func:`connect_file_lifecycle`).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from .context import get_current_schema, schema_context
from .signals import tenant_deleted, tenant_renamed

__all__ = ["TenantFileSystemStorage", "TenantPrefixedStorage", "connect_file_lifecycle"]

logger = logging.getLogger(__name__)

# True while the backend's own methods run: the names they pass to each other (e.g.
# FileSystemStorage._save calling self.path and self.get_available_name) already
# carry the prefix and must not get it twice.
_in_backend: ContextVar[bool] = ContextVar("tenancy_storage_in_backend", default=False)


@contextmanager
def _backend() -> Iterator[None]:
    token = _in_backend.set(True)
    try:
        yield
    finally:
        _in_backend.reset(token)


def tenant_relative_name(name: str) -> str:
    """``name`` as a relative POSIX path inside a tenant's prefix; refuses escapes."""
    if not isinstance(name, str) or "\x00" in name:
        raise SuspiciousFileOperation(f"The file name {name!r} is not a valid name.")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise SuspiciousFileOperation(
            f"The file name {name!r} is absolute; tenant storage takes relative names only."
        )
    parts = [part for part in unified.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise SuspiciousFileOperation(
            f"The file name {name!r} has a '..' part; it could leave the tenant's files."
        )
    return "/".join(parts)


class TenantPrefixedStorage(Storage):
    """Mixin: put it before a storage backend to give each tenant its own prefix.

    .. code-block:: python

        class TenantS3Storage(TenantPrefixedStorage, S3Storage):
            pass

    Override :meth:`tenant_prefix` to derive the prefix from something else than the
    schema name. :meth:`move_tenant_files` and :meth:`delete_tenant_files` work on any
    backend (file by file); subclasses may do them faster.
    """

    def tenant_prefix(self) -> str:
        """The prefix of the active tenant's files: its schema name."""
        return get_current_schema()

    def _full(self, name: str) -> str:
        relative = tenant_relative_name(name)
        prefix = self.tenant_prefix()
        return f"{prefix}/{relative}" if relative else prefix

    def _strip(self, full: str) -> str:
        prefix = self.tenant_prefix() + "/"
        normalized = full.replace("\\", "/")
        if not normalized.startswith(prefix):
            raise SuspiciousFileOperation(
                f"The storage returned {full!r}, which is outside the prefix {prefix!r}."
            )
        return normalized[len(prefix) :]

    # The public Storage API: prefix on the way in, strip on the way out ----------------

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        if _in_backend.get():
            return super().open(name, mode)
        with _backend():
            return super().open(self._full(name), mode)

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        if _in_backend.get():
            return super().save(name, content, max_length)
        if name is None:
            name = content.name  # as Storage.save does
        full = self._full(name)
        if max_length is not None:
            max_length += len(full) - len(tenant_relative_name(name))
        with _backend():
            return self._strip(super().save(full, content, max_length))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if _in_backend.get():
            return super().get_available_name(name, max_length)
        full = self._full(name)
        if max_length is not None:
            max_length += len(full) - len(tenant_relative_name(name))
        with _backend():
            return self._strip(super().get_available_name(full, max_length))

    def path(self, name: str) -> str:
        if _in_backend.get():
            return super().path(name)
        with _backend():
            return super().path(self._full(name))

    def delete(self, name: str) -> None:
        if _in_backend.get():
            return super().delete(name)
        with _backend():
            return super().delete(self._full(name))

    def exists(self, name: str) -> bool:
        if _in_backend.get():
            return super().exists(name)
        with _backend():
            return super().exists(self._full(name))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        if _in_backend.get():
            return super().listdir(path)
        with _backend():
            return super().listdir(self._full(path))

    def size(self, name: str) -> int:
        if _in_backend.get():
            return super().size(name)
        with _backend():
            return super().size(self._full(name))

    def url(self, name: str | None) -> str:
        if _in_backend.get() or name is None:
            return super().url(name)
        with _backend():
            return super().url(self._full(name))

    def get_accessed_time(self, name: str) -> datetime:
        if _in_backend.get():
            return super().get_accessed_time(name)
        with _backend():
            return super().get_accessed_time(self._full(name))

    def get_created_time(self, name: str) -> datetime:
        if _in_backend.get():
            return super().get_created_time(name)
        with _backend():
            return super().get_created_time(self._full(name))

    def get_modified_time(self, name: str) -> datetime:
        if _in_backend.get():
            return super().get_modified_time(name)
        with _backend():
            return super().get_modified_time(self._full(name))

    # A whole tenant's files ---------------------------------------------------------------

    def tenant_files(self, schema_name: str) -> Iterator[str]:
        """Every file name (relative to the tenant) under ``schema_name``'s prefix."""
        with schema_context(schema_name):
            pending = [""]
            while pending:
                folder = pending.pop()
                try:
                    folders, files = self.listdir(folder)
                except FileNotFoundError:
                    continue
                for name in files:
                    yield f"{folder}/{name}" if folder else name
                pending.extend(f"{folder}/{sub}" if folder else sub for sub in folders)

    def delete_tenant_files(self, schema_name: str) -> int:
        """Delete every file under ``schema_name``'s prefix; return how many."""
        names = list(self.tenant_files(schema_name))
        with schema_context(schema_name):
            for name in names:
                self.delete(name)
        return len(names)

    def move_tenant_files(self, old_schema_name: str, new_schema_name: str) -> int:
        """Move every file from ``old_schema_name``'s prefix to ``new_schema_name``'s.

        Refuses (``FileExistsError``, nothing moved) when the new prefix has files.
        """
        if next(self.tenant_files(new_schema_name), None) is not None:
            raise FileExistsError(
                f"The storage already has files under {new_schema_name!r}; nothing was moved."
            )
        moved = 0
        for name in list(self.tenant_files(old_schema_name)):
            with schema_context(old_schema_name), self.open(name) as source:
                with schema_context(new_schema_name):
                    saved = self.save(name, source)
                if saved != name:
                    raise FileExistsError(f"{name!r} was stored as {saved!r} under the new prefix.")
            with schema_context(old_schema_name):
                self.delete(name)
            moved += 1
        return moved


class TenantFileSystemStorage(TenantPrefixedStorage, FileSystemStorage):
    """``FileSystemStorage`` with each tenant's files in ``MEDIA_ROOT/<schema>/`` and its
    URLs under ``MEDIA_URL/<schema>/``."""

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        try:
            return super().listdir(path)
        except FileNotFoundError:
            if _in_backend.get() or tenant_relative_name(path):
                raise
            return [], []  # a tenant without files yet: its folder is made by the first

    def _root_of(self, schema_name: str) -> str:
        with schema_context(schema_name):
            return self.path("")

    def delete_tenant_files(self, schema_name: str) -> int:
        root = self._root_of(schema_name)
        count = sum(len(files) for _, _, files in os.walk(root))
        shutil.rmtree(root, ignore_errors=True)
        return count

    def move_tenant_files(self, old_schema_name: str, new_schema_name: str) -> int:
        old, new = self._root_of(old_schema_name), self._root_of(new_schema_name)
        if not os.path.isdir(old):
            return 0
        if os.path.lexists(new):
            raise FileExistsError(f"{new} already exists; nothing was moved.")
        count = sum(len(files) for _, _, files in os.walk(old))
        os.rename(old, new)  # one step, on one file system
        return count


# rename_tenant / delete_tenant -----------------------------------------------------------


def tenant_storages() -> Iterator[tuple[str, TenantPrefixedStorage]]:
    """The tenant-prefixed storages of ``settings.STORAGES``, by alias."""
    for alias in getattr(settings, "STORAGES", {}):
        storage = storages[alias]
        if isinstance(storage, TenantPrefixedStorage):
            yield alias, storage


def _files_renamed(
    sender: Any, *, old_schema_name: str, new_schema_name: str, **kwargs: Any
) -> None:
    for alias, storage in tenant_storages():
        try:
            moved = storage.move_tenant_files(old_schema_name, new_schema_name)
        except Exception:
            logger.exception(
                "The files of %r in storage %r were not moved to %r: move them by hand.",
                old_schema_name,
                alias,
                new_schema_name,
            )
        else:
            logger.info("Moved %d files of %r to %r in storage %r.", moved, old_schema_name,
                        new_schema_name, alias)  # fmt: skip


def _files_deleted(sender: Any, *, schema_name: str, dropped: bool, **kwargs: Any) -> None:
    if not dropped:
        return  # the schema is kept, and so are the files
    for alias, storage in tenant_storages():
        try:
            deleted = storage.delete_tenant_files(schema_name)
        except Exception:
            logger.exception(
                "The files of deleted tenant %r in storage %r were not deleted: delete "
                "them by hand before a new tenant gets that name.",
                schema_name,
                alias,
            )
        else:
            logger.info("Deleted %d files of %r in storage %r.", deleted, schema_name, alias)


def connect_file_lifecycle() -> None:
    """Let files follow rename_tenant and delete_tenant (``TenancyConfig.ready()`` does)."""
    tenant_renamed.connect(_files_renamed, dispatch_uid="tenancy_storage_renamed")
    tenant_deleted.connect(_files_deleted, dispatch_uid="tenancy_storage_deleted")

"""A tiny command for tests: prints the current schema and the number of notes in it."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from tenancy_app.context import get_current_schema, get_current_tenant

from ...models import Note

#: Two runs of ``--rendezvous`` wait for each other here: they meet only when concurrent.
RENDEZVOUS = threading.Barrier(2, timeout=20)


class Command(BaseCommand):
    help = "Print the current schema, tenant and Note count (optionally add a note first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--add", metavar="TITLE", help="Create a note with this title first.")
        parser.add_argument(
            "--fail-in", metavar="SCHEMA", help="Raise CommandError when run in this schema."
        )
        parser.add_argument(
            "--rendezvous",
            action="store_true",
            help="Wait until another run of this command (on another thread) waits too.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schema = get_current_schema()
        if options["fail_in"] == schema:
            raise CommandError(f"asked to fail in {schema}")
        if options["rendezvous"]:
            try:
                RENDEZVOUS.wait()
            except threading.BrokenBarrierError as exc:
                RENDEZVOUS.reset()
                raise CommandError("no other run came to the rendezvous") from exc
        if options["add"]:
            Note.objects.create(title=options["add"])
        tenant = get_current_tenant()
        self.stdout.write(
            f"schema={schema} tenant={tenant.schema_name if tenant else '-'} "
            f"notes={Note.objects.count()}"
        )

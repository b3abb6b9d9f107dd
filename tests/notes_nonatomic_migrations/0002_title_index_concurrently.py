"""A migration PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY)."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("notes", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY notes_note_title_concurrently ON notes_note (title)",
            reverse_sql="DROP INDEX CONCURRENTLY notes_note_title_concurrently",
        )
    ]

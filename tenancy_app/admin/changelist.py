"""The tenant list: schema sizes and live migration counts for the rows of the page only."""

from __future__ import annotations

from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

from ..migrator.status import pending_counts
from . import queries
from .nodes import annotate_placements


class TenantChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # The page's rows are still a lazy (sliced) queryset. PostgreSQL would compute a
        # column of it for the rows skipped by OFFSET too; so the page is selected by
        # primary key in a subquery, and the size computed for those rows only, still in
        # the page's one statement.
        page = self.result_list
        if isinstance(page, QuerySet) and page.query.is_sliced:
            self.result_list = queries.with_schema_size(
                self.queryset.filter(pk__in=page.values("pk"))
            )
        elif isinstance(page, QuerySet):
            self.result_list = queries.with_schema_size(page)
        # What each shown schema lacks now (a deploy may have added migrations since the
        # last recorded run): two queries for the page, whatever its size.
        rows = list(self.result_list)
        live = pending_counts([row.schema_name for row in rows])
        for row in rows:
            row.admin_live_pending = live.get(row.schema_name)
        annotate_placements(rows)  # on Citus: node and size on it; one query
        self.result_list = rows

"""ENGINE ``tenancy_app.backends.postgresql``: Django's PostgreSQL backend plus search_path."""

"""Projects and tasks: the per-customer app, installed in every tenant schema."""

"""The public site: the landing page and the tenant registry's admin (public schema)."""

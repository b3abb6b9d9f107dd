"""A small SaaS built on tenancy_app: a public site and one schema per customer."""

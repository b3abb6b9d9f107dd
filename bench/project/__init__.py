"""The bench project: one tenant view, served with tenancy or with plain Django settings."""

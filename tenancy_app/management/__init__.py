"""Management commands of tenancy_app; shared helpers live in :mod:`.base`."""

"""Optional integrations; the core never imports them (each is an app or a module you add)."""

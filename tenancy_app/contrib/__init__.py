"""Optional integrations, each behind a setup.cfg extra; the core never imports them."""

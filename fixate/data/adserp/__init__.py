"""AdSERP: sponsored-search result pages with eye tracking (SIGIR 2025)."""

"""RecGaze: carousel movie recommendation with eye tracking (SIGIR 2025)."""

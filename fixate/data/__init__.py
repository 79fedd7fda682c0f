"""Raw eye-tracking logs to per-user samples (no model code here)."""

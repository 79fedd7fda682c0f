"""Seeded synthetic stand-ins for the raw datasets, written in their exact file formats."""

"""Using a trained simulator: new screens in, attention, clicks, overlays and a gallery out."""

"""Shared image helpers: the one OpenImageIO module, colour conversions, previews."""

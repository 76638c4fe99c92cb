"""Citewise core: settings, domain models, errors, ids and logging shared by every layer."""

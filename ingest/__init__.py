"""Ingestion: find source files, parse and chunk them, embed, and keep the index in sync."""

"""The adapter over ``unstructured``: partitioning and structure-aware chunking.

Unstructured's element types never leave this package; callers get ``ParsedDocument``.
"""

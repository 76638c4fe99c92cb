"""Retrieval: embedding, sparse encoding, the vector index and (later) search."""

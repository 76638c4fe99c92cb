"""Evaluation harness: datasets, metrics, judges and reports (to come)."""

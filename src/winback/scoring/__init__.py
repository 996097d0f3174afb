"""Scores and models."""

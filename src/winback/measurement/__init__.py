"""Measurement: intervals, p-values and experiments that say what a programme earned."""

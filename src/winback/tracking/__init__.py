"""Tracking: signed link tokens now; open/click/unsubscribe/preference handling and bounces later."""

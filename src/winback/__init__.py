"""winback: find customers who are slipping away, learn why and what they are worth, win them back."""

from winback.domain.errors import UserError, WinbackError

__version__ = "0.1.0"

__all__ = ["UserError", "WinbackError", "__version__"]

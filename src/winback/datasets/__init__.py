"""Data to learn and demonstrate with: the real CDNOW purchases and generated worlds."""

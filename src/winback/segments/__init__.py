"""Who is who: lifecycle stages (and, later, the segment expression language)."""

"""From files to the store: read, validate, quarantine what is wrong, upsert what is right."""

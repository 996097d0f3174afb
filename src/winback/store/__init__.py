"""The operational store of record: tables, connections, migrations and repositories."""

"""Search: the query language, indexes (embedded and PostgreSQL), hybrid ranking, generated answers."""

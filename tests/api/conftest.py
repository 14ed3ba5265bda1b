from tests.scenarios.postgres import database_url, postgres_url  # noqa: F401  (fixtures: SQLite and PostgreSQL)

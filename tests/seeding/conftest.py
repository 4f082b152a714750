from tests.data_migrations.support import change_log, clean  # noqa: F401 - fixtures

"""Named data migrations: registered in code, recorded in `data_migrations` when applied, run once each."""

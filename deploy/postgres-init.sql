-- Prefect's own database (its schema and alembic_version table stay out of StreamWeave's).
CREATE DATABASE prefect OWNER streamweave;

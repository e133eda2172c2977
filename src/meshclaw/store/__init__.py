"""Storage: SQLAlchemy tables, Alembic migrations and the small repositories on top of them."""

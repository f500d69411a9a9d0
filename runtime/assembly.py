"""What every entry point (CLI, flows, HTTP app) needs: settings, the company, the database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from org.chart import Company
from runtime.company import load_company
from runtime.settings import Settings, load_settings
from storage.db import make_engine, migrate, session_factory


@dataclass
class Runtime:
    settings: Settings

    @classmethod
    def from_env(cls, **overrides: object) -> Runtime:
        settings = load_settings()
        clean = {key: value for key, value in overrides.items() if value is not None}
        return cls(settings.model_copy(update=clean) if clean else settings)

    @cached_property
    def company(self) -> Company:
        return load_company(self.settings.company_file())

    @cached_property
    def engine(self) -> Engine:
        """The database, checked first: it exists, answers and has the current schema (a read
        never creates an empty SQLite file)."""
        from runtime.readiness import check_database

        url = self.settings.database_url
        engine = make_engine(url)
        try:
            check_database(url, engine)
        except Exception:
            engine.dispose()
            raise
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def migrate(self) -> None:
        migrate(self.settings.database_url)

"""What every entry point (CLI, flows, HTTP app) needs: settings, the company, the database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from org.chart import Company
from runtime.company import load_company
from runtime.settings import Settings, load_settings
from storage.db import make_engine, make_snapshot_engine, migrate, session_factory


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
        never creates an empty SQLite file). A SQLite file is checked through `read_engine`, so
        a command that only reads never waits for another process's write lock."""
        url = self.settings.database_url
        engine = make_engine(url)
        try:
            if self._reads_apart:
                self.read_engine  # noqa: B018 (checks the database)
            else:
                _checked(url, engine)
        except Exception:
            engine.dispose()
            raise
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def read_engine(self) -> Engine:
        """The engine of what only reads (pages, API GETs, commands that read): on a SQLite file
        it neither takes nor waits for the write lock (`storage.db.make_snapshot_engine`);
        elsewhere `engine`."""
        if not self._reads_apart:
            return self.engine
        url = self.settings.database_url
        engine = make_snapshot_engine(url)
        try:
            _checked(url, engine)
        except Exception:
            engine.dispose()
            raise
        return engine

    @property
    def _reads_apart(self) -> bool:
        from runtime.readiness import sqlite_path

        return sqlite_path(self.settings.database_url) is not None

    @cached_property
    def reads(self) -> sessionmaker[Session]:
        return self.sessions if self.read_engine is self.engine else session_factory(self.read_engine)

    def close(self) -> None:
        """Close the database connections this runtime opened."""
        if "read_engine" in self.__dict__ and self.read_engine is not self.engine:
            self.read_engine.dispose()
        if "engine" in self.__dict__:
            self.engine.dispose()

    def migrate(self) -> None:
        migrate(self.settings.database_url)


def _checked(url: str, engine: Engine) -> None:
    from runtime.readiness import check_database  # (its Alembic look-up only when a command needs it)

    check_database(url, engine)

"""Storage: migrations match the models on SQLite and PostgreSQL; keys are stored hashed."""

from __future__ import annotations

import hashlib

import typer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from typer.testing import CliRunner

from service import models as m
from service.commands import register
from service.db import Database
from tests.service.conftest import STUDY, Api


def test_migrations_create_the_schema_of_the_models(database_url: str):
    db = Database(database_url)
    try:
        db.migrate()
        db.migrate()  # a second start finds nothing to do
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
        assert diff == []
        assert "alembic_version" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def _migrate(engine: Engine, step: str, target: str) -> None:
    """Run Alembic's ``step`` ("upgrade", "downgrade") to ``target`` on ``engine``."""
    from alembic import command
    from alembic.config import Config

    from service.db import MIGRATIONS

    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        getattr(command, step)(cfg, target)


def test_the_expression_column_keeps_the_values_stored_before_it(tmp_path):
    """Migration 0002 adds ``comparison_values.expression_changed``: rows stored under 0001
    keep every value and read null (not known); going back to 0001 keeps them too."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")  # foreign keys not enforced
    row = {"c": "c1", "r": "forehead", "m": "wrinkles.severity", "d": -2.5, "mdc": 1.1}

    def values() -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT * FROM comparison_values"))]

    try:
        _migrate(engine, "upgrade", "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO comparison_values (comparison_id, region, metric, delta, mdc, "
                    "significant, improved) VALUES (:c, :r, :m, :d, :mdc, 1, 1)"
                ),
                row,
            )
        _migrate(engine, "upgrade", "head")
        assert values() == [("c1", "forehead", "wrinkles.severity", -2.5, 1.1, 1, 1, None)]
        _migrate(engine, "downgrade", "0001")
        assert values() == [("c1", "forehead", "wrinkles.severity", -2.5, 1.1, 1, 1)]
    finally:
        engine.dispose()


def test_the_focus_columns_are_filled_from_the_results_stored_before_them(tmp_path):
    """Migration 0003 adds the comparisons' focus columns: a result stored under 0002 that
    holds its focus fills them, an older one reads null (not known); results are kept as they
    were, and going back to 0002 keeps every row."""
    import json

    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")  # foreign keys not enforced
    focused = {
        "photometric": {"focus_softened": "after", "focus_blur_mm": 0.21},
        "quality": {"ok": False, "issues": [{"code": "focus_differs", "severity": "warning"}]},
    }
    results = {"c1": focused, "c2": {"photometric": {"white_balance": [1, 1, 1]}}}

    def rows(columns: str) -> list[tuple[object, ...]]:
        with engine.connect() as conn:
            query = f"SELECT id, {columns} FROM comparisons ORDER BY id"
            return [tuple(r) for r in conn.execute(text(query))]

    try:
        _migrate(engine, "upgrade", "0002")
        with engine.begin() as conn:
            for cid, result in results.items():
                conn.execute(
                    text(
                        "INSERT INTO comparisons (id, study_id, subject_id, before_photo_id, "
                        "after_photo_id, after_at, after_visit, automatic, latest, result, "
                        "created_at) VALUES (:id, 1, 1, 'p1', 'p2', '2025-01-01', 'week4', 1, 1, "
                        ":result, '2025-01-01')"
                    ),
                    {"id": cid, "result": json.dumps(result)},
                )
        _migrate(engine, "upgrade", "head")
        assert rows("focus_blur_mm, focus_softened, focus_differs") == [
            ("c1", 0.21, "after", 1),
            ("c2", None, None, None),
        ]
        assert [json.loads(str(r[1])) for r in rows("result")] == list(results.values())
        _migrate(engine, "downgrade", "0002")
        assert [json.loads(str(r[1])) for r in rows("result")] == list(results.values())
    finally:
        engine.dispose()


def test_keys_are_stored_as_sha256_only(api: Api):
    key = api.keys[STUDY, "viewer"]
    assert key.startswith("wt_")
    assert len(key) > 40
    with api.db.read() as s:
        hashes = set(s.scalars(select(m.ApiKey.key_hash)))
    assert hashlib.sha256(key.encode()).hexdigest() in hashes
    assert not any(key in h for h in hashes)


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_keys_create_prints_a_working_key_once(tmp_path, sqlite_url, monkeypatch):
    monkeypatch.setenv("WRINKLETRACK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WRINKLETRACK_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(
        _cli(), ["keys", "create", "--study", "clinic-1", "--role", "viewer"]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert key.startswith("wt_")
    db = Database(sqlite_url)
    try:
        with db.read() as s:
            row = s.execute(
                select(m.Study.name, m.ApiKey.role, m.ApiKey.key_hash).join(m.ApiKey)
            ).one()
    finally:
        db.dispose()
    assert tuple(row) == ("clinic-1", "viewer", hashlib.sha256(key.encode()).hexdigest())


def test_keys_create_refuses_an_unknown_role_or_study_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WRINKLETRACK_DATA_DIR", str(tmp_path / "data"))
    for args in (["--study", "s", "--role", "owner"], ["--study", "../s", "--role", "admin"]):
        result = CliRunner().invoke(_cli(), ["keys", "create", *args])
        assert result.exit_code == 2
    assert not (tmp_path / "data").exists()

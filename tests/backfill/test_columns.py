"""The backfill's columns against the models: a column a model gains is written, or a test names it.

The record tables' columns come from the models (`podium.backfill.tables.record_table`), so a new
column is in every statement at once; these tests check the stages fill it, and that what is
still listed by hand (join tables, verify's links, the quarantine entry) agrees with the models.
The models are changed on copies of their tables, never in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import pytest
import sqlalchemy

from podium.backfill import database as db
from podium.backfill.context import Context
from podium.backfill.plan import Existing, QuarantineEntry, Row
from podium.backfill.stages import plan_stage
from podium.backfill.tables import (
    JOIN_NOT_WRITTEN,
    JOIN_TABLES,
    NOT_WRITTEN,
    RECORD_TABLES,
    STAGES,
    JoinTable,
    RecordTable,
    record_table,
)
from podium.backfill.verify import LINKS
from podium.db import metadata
from podium_devtools.airtable_base import GeneratedBase

MODELS: Mapping[str, sqlalchemy.Table] = metadata.tables


def unfilled(table: RecordTable, rows: Sequence[Row]) -> list[str]:
    """`table.column` for each column the backfill writes that a planned row leaves out."""
    wanted = ("id", *table.column_names)
    return [f"{table.name}.{name}" for name in wanted if any(name not in row for row in rows)]


def not_columns(table: RecordTable, rows: Sequence[Row]) -> list[str]:
    """`table.key` for each value a planned row holds that no column written takes."""
    written = {"id", *table.column_names}
    return sorted({f"{table.name}.{key}" for row in rows for key in row if key not in written})


def unaccounted(table: sqlalchemy.Table, *accounted: Iterable[str]) -> list[str]:
    """`table.column` for each column of the model in none of `accounted`."""
    known = {name for names in accounted for name in names}
    return [f"{table.name}.{column.name}" for column in table.columns if column.name not in known]


@pytest.fixture(scope="module")
def planned_rows(messy_base: GeneratedBase) -> dict[str, list[Row]]:
    """The rows every stage plans for the messy base, per v2 record table."""
    context, existing = Context(), Existing()
    rows: dict[str, list[Row]] = {}
    for stage in STAGES:
        plan = plan_stage(stage, messy_base.tables[stage], context, existing, full=True)
        for table, planned in plan.rows.items():
            rows.setdefault(table, []).extend(planned)
    return rows


def test_the_record_tables_are_the_models_less_what_the_database_fills_in() -> None:
    for name, table in RECORD_TABLES.items():
        assert unaccounted(MODELS[name], table.column_names, NOT_WRITTEN[name]) == []
        assert record_table(MODELS[name], NOT_WRITTEN[name]) == table


@pytest.mark.parametrize("table", RECORD_TABLES.values(), ids=lambda table: table.name)
def test_every_column_the_backfill_writes_is_filled_by_its_stage(
    table: RecordTable, planned_rows: dict[str, list[Row]]
) -> None:
    rows = planned_rows[table.name]
    assert rows
    assert unfilled(table, rows) == [], (
        "columns the stage does not fill: fill them from the v1 record, or add them to "
        "NOT_WRITTEN in podium/backfill/tables.py with the reason"
    )
    assert not_columns(table, rows) == [], "values the stage plans that no column takes"


def test_a_column_the_projects_model_gains_is_written_and_named_until_its_stage_fills_it(
    planned_rows: dict[str, list[Row]],
) -> None:
    projects = MODELS["projects"].to_metadata(sqlalchemy.MetaData())
    projects.append_column(sqlalchemy.Column("new_column", sqlalchemy.Text(), nullable=True))

    table = record_table(projects, NOT_WRITTEN["projects"])
    assert table.columns == (*RECORD_TABLES["projects"].columns, ("new_column", "text"))
    assert "new_column = excluded.new_column" in db.upsert_sql(table)
    assert unfilled(table, planned_rows["projects"]) == ["projects.new_column"]

    # Listing it as not written is the other way to account for it.
    skipped = record_table(projects, (*NOT_WRITTEN["projects"], "new_column"))
    assert skipped == RECORD_TABLES["projects"]
    assert unfilled(skipped, planned_rows["projects"]) == []


def test_a_column_type_without_an_unnest_type_is_named() -> None:
    projects = MODELS["projects"].to_metadata(sqlalchemy.MetaData())
    projects.append_column(sqlalchemy.Column("budget", sqlalchemy.Numeric(10, 2), nullable=True))
    with pytest.raises(TypeError, match=r"projects\.budget: no unnest\(\) type for NUMERIC"):
        record_table(projects, NOT_WRITTEN["projects"])


def test_a_column_listed_as_not_written_must_exist() -> None:
    with pytest.raises(ValueError, match="projects has no column new_column"):
        record_table(MODELS["projects"], (*NOT_WRITTEN["projects"], "new_column"))


def join_table_problems(join: JoinTable, table: sqlalchemy.Table) -> list[str]:
    missing = [name for name in (join.parent, join.child, *JOIN_NOT_WRITTEN) if name not in table.c]
    return [f"{table.name}.{name} is no column" for name in missing] + unaccounted(
        table, (join.parent, join.child), JOIN_NOT_WRITTEN
    )


@pytest.mark.parametrize("join", JOIN_TABLES.values(), ids=lambda join: join.name)
def test_join_tables_write_their_pair_and_leave_every_other_column_to_the_database(
    join: JoinTable,
) -> None:
    assert join_table_problems(join, MODELS[join.name]) == []
    parent = MODELS[join.name].c[join.parent]
    assert {key.column.table.name for key in parent.foreign_keys} <= set(RECORD_TABLES)

    widened = MODELS[join.name].to_metadata(sqlalchemy.MetaData())
    widened.append_column(sqlalchemy.Column("role", sqlalchemy.Text(), nullable=True))
    assert join_table_problems(join, widened) == [f"{join.name}.role"]


def test_verify_checks_every_link_the_backfill_writes() -> None:
    written = {
        (name, column)
        for name, table in RECORD_TABLES.items()
        for column in table.column_names
        if MODELS[name].c[column].foreign_keys
    } | {(join.name, join.child) for join in JOIN_TABLES.values()}
    listed = set(LINKS.values())
    assert sorted(f"{t}.{c}" for t, c in written - listed) == [], "links verify does not check"
    assert sorted(f"{t}.{c}" for t, c in listed - written) == [], "links the backfill never writes"


def test_a_quarantine_entry_holds_exactly_the_columns_the_backfill_writes() -> None:
    model = MODELS["backfill_quarantine"]
    assert unaccounted(model, db.QUARANTINE.column_names, ("id", "created_at", "updated_at")) == []
    fields = [field.name for field in dataclasses.fields(QuarantineEntry)]
    assert fields == list(db.QUARANTINE.column_names)
    entry = QuarantineEntry(*fields)  # type: ignore[arg-type]  # only its keys matter
    as_json = {"source_table" if key == "table" else key for key in entry.as_json()}
    assert as_json == set(fields)
    assert set(db.QUARANTINE_KEY) <= set(fields)

"""The write-back's columns against the models: each is read back into v1, or said not to be.

What the write-back reads follows v1's layout (`podium.airtable_v1`): v1 has no field for a column
v2 adds, so a new column needs a decision (a v1 field, or `NOT_READ` with the reason); these
tests name every column of the models that has neither. The models are changed on copies of
their tables, never in place.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import sqlalchemy

from podium.airtable_v1 import TABLES, V1Table
from podium.backfill.tables import JOIN_NOT_WRITTEN
from podium.cutover.v1_records import LIST_TABLES, NOT_READ, SINGLE_COLUMNS, columns_read
from podium.db import metadata

MODELS: Mapping[str, sqlalchemy.Table] = metadata.tables


def unread(spec: V1Table, table: sqlalchemy.Table) -> list[str]:
    """`table.column` for each column of the model the write-back neither reads nor skips."""
    accounted = {*columns_read(spec), *NOT_READ[spec.name]}
    return [
        f"{table.name}.{column.name}" for column in table.columns if column.name not in accounted
    ]


@pytest.mark.parametrize("spec", TABLES, ids=lambda spec: spec.name)
def test_every_column_is_read_back_into_v1_or_listed_as_not_read(spec: V1Table) -> None:
    table = MODELS[spec.name]
    assert unread(spec, table) == [], (
        "columns the write-back would leave out of v1: give them a v1 field "
        "(podium/airtable_v1.py) or add them to NOT_READ in podium/cutover/v1_records.py"
    )
    named = [*columns_read(spec), *NOT_READ[spec.name]]
    assert [name for name in named if name not in table.c] == []
    assert len(named) == len(set(named))


@pytest.mark.parametrize("spec", TABLES, ids=lambda spec: spec.name)
def test_single_links_are_read_from_the_foreign_key_to_their_table(spec: V1Table) -> None:
    columns = SINGLE_COLUMNS.get(spec.name, {})
    assert set(columns) == set(spec.single_links)
    for link, target in spec.single_links.items():
        keys = MODELS[spec.name].c[columns[link]].foreign_keys
        # (votes' keys also take part in composite keys to projects and event_attendees)
        assert target in {key.column.table.name for key in keys}, f"{spec.name}.{link}"


def test_a_column_the_projects_model_gains_is_named() -> None:
    projects = MODELS["projects"].to_metadata(sqlalchemy.MetaData())
    projects.append_column(sqlalchemy.Column("new_column", sqlalchemy.Text(), nullable=True))
    spec = next(spec for spec in TABLES if spec.name == "projects")
    assert unread(spec, projects) == ["projects.new_column"]


@pytest.mark.parametrize("link", LIST_TABLES, ids=lambda link: ".".join(link))
def test_link_lists_are_read_from_their_pair(link: tuple[str, str]) -> None:
    join = LIST_TABLES[link]
    table = MODELS[join.name]
    spec = next(spec for spec in TABLES if spec.name == link[0])
    assert link[1] in spec.link_lists
    accounted = {join.parent, join.child, *JOIN_NOT_WRITTEN}
    assert [f"{join.name}.{c.name}" for c in table.columns if c.name not in accounted] == []
    assert {key.column.table.name for key in table.c[join.parent].foreign_keys} == {link[0]}
    assert {key.column.table.name for key in table.c[join.child].foreign_keys} == {
        spec.link_lists[link[1]]
    }


def test_every_link_list_of_v1_is_read() -> None:
    assert {(spec.name, link) for spec in TABLES for link in spec.link_lists} == set(LIST_TABLES)

"""Accounts, beyond the single-row reads and writes of podium.queries.rows."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Transaction
from podium.models import Event, Project, ProjectCollaborator, RevokedToken, User
from podium.queries.rows import as_model
from podium.queries.statement import Statement

users = User.ormar_config.table
events = Event.ormar_config.table
projects = Project.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
revoked = RevokedToken.ormar_config.table

_USER_ID = bindparam("user_id", type_=postgresql.UUID(as_uuid=True))

_EMAIL_EXISTS = Statement(select(exists().where(users.c.email == bindparam("email"))))

# Every authenticated request runs this one statement: the user and, by the same index probe a
# plain lookup would make plus one on revoked_tokens' key, whether this token was logged out.
_FOR_TOKEN = Statement(
    select(*users.columns, revoked.c.token_id.is_not(None).label("token_revoked"))
    .select_from(
        users.outerjoin(
            revoked,
            revoked.c.token_id == bindparam("token_id", type_=postgresql.UUID(as_uuid=True)),
        )
    )
    .where(users.c.email == bindparam("email"))
)
# FOR UPDATE: an event created meanwhile (its insert key-share-locks the owner) waits for the
# deletion, then fails on the missing owner; none slips in between the check and the delete.
_LOCK = Statement(select(users.c.id).where(users.c.id == _USER_ID).with_for_update())
_OWNED_EVENTS = Statement(
    select(events.c.seq, events.c.name)
    .where(events.c.owner_id == _USER_ID)
    .order_by(events.c.created_at, events.c.seq)
)
# A team project outlives its owner: it passes to the collaborator who joined first, who is then
# its owner rather than a collaborator.
_heir = (
    select(collaborators.c.project_id, collaborators.c.user_id)
    .join(projects, projects.c.id == collaborators.c.project_id)
    .where(projects.c.owner_id == _USER_ID, collaborators.c.user_id != _USER_ID)
    .ext(postgresql.distinct_on(collaborators.c.project_id))
    .order_by(collaborators.c.project_id, collaborators.c.created_at, collaborators.c.seq)
    .subquery("heir")
)
_moved = (
    update(projects)
    .where(projects.c.id == _heir.c.project_id)
    .values(owner_id=_heir.c.user_id)
    .returning(projects.c.id, projects.c.owner_id)
    .cte("moved")
)
_HAND_OVER_PROJECTS = Statement(
    delete(collaborators)
    .where(
        collaborators.c.project_id == _moved.c.id,
        collaborators.c.user_id == _moved.c.owner_id,
    )
    .add_cte(_moved)
)
# Runs after the hand-over: what is left has no one else on it.
_DELETE_OWNED_PROJECTS = Statement(delete(projects).where(projects.c.owner_id == _USER_ID))
# Attendances, votes (through either key), collaborations, referrals and revoked tokens go with
# the row (ON DELETE CASCADE); the revision triggers move the affected events' ETags.
_DELETE = Statement(delete(users).where(users.c.id == _USER_ID).returning(users.c.id))


async def email_exists(db: Executor, email: str) -> bool:
    return bool(await _EMAIL_EXISTS.fetchval(db, email=email))


async def for_access_token(
    db: Executor, email: str, token_id: uuid.UUID
) -> tuple[User, bool] | None:
    """The user with this email and whether the token with this id was revoked; None if no
    user has the email."""
    row = await _FOR_TOKEN.fetchrow(db, email=email, token_id=token_id)
    if row is None:
        return None
    values = dict(row)
    token_revoked = bool(values.pop("token_revoked"))
    return as_model(User, values), token_revoked


async def lock(tx: Transaction, user_id: uuid.UUID) -> bool:
    """Lock the user's row until `tx` ends; False if it is gone."""
    return await _LOCK.fetchval(tx, user_id=user_id) is not None


async def owned_events(db: Executor, user_id: uuid.UUID) -> list[tuple[int, str]]:
    """(seq, name) of the events the user owns, oldest first."""
    return [(row["seq"], row["name"]) for row in await _OWNED_EVENTS.fetch(db, user_id=user_id)]


async def delete_account(tx: Transaction, user_id: uuid.UUID) -> bool:
    """Delete the account and what is only its own; its team projects pass on. False if gone."""
    await _HAND_OVER_PROJECTS.execute(tx, user_id=user_id)
    await _DELETE_OWNED_PROJECTS.execute(tx, user_id=user_id)
    return await _DELETE.fetchval(tx, user_id=user_id) is not None

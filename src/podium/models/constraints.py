"""The constraints the application reacts to by name, and the SQLSTATEs it tells apart.

The names are what the models' metadata produces (explicit names, or the naming convention in
podium.db); tests/schema/test_constraints.py checks each one exists, so a renamed constraint
fails a test instead of turning a clean 409 into a 500.
"""

from __future__ import annotations

from enum import StrEnum

# What the database accepts as a join code (the models' CHECK constraints say the same);
# anything else cannot name an event or a project.
JOIN_CODE_PATTERN = "^[A-Z0-9]{4,16}$"


class Constraint(StrEnum):
    USERS_EMAIL = "uq_users_email"
    EVENTS_SLUG = "uq_events_slug"
    EVENTS_JOIN_CODE = "uq_events_join_code"
    PROJECTS_JOIN_CODE = "uq_projects_join_code"
    ATTENDEES_EVENT_USER = "uq_event_attendees_event_id_user_id"
    VOTES_VOTER_PROJECT = "uq_votes_voter_id_project_id"


class SqlState(StrEnum):
    UNIQUE_VIOLATION = "23505"
    FOREIGN_KEY_VIOLATION = "23503"

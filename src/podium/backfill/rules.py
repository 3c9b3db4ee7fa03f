"""The mess rules: every way a v1 record can fail to land as is, and what happens to it.

Each rule has one disposition (what became of the record) and an action for the operator. The
table in docs/backfill.md is this catalogue; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DELTA_HINT = "then run `delta --since <time of the fix>` (every delta retries quarantined records)"


class Disposition(StrEnum):
    REJECTED = "rejected"  # not migrated
    MERGED = "merged"  # folded into another record (related_record_id)
    REPAIRED = "repaired"  # migrated with a change
    NOTED = "noted"  # migrated as is; a discrepancy worth knowing

    @property
    def lands(self) -> bool:
        return self in (Disposition.REPAIRED, Disposition.NOTED)


@dataclass(frozen=True)
class Rule:
    name: str
    disposition: Disposition
    decision: str
    action: str


def _rule(name: str, disposition: Disposition, decision: str, action: str) -> Rule:
    return Rule(name, disposition, decision, action)


_R, _M, _F, _N = Disposition.REJECTED, Disposition.MERGED, Disposition.REPAIRED, Disposition.NOTED

RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        _rule(
            "merged_duplicate_email",
            _M,
            "Email equal to another user's after strip + lower-case: one v2 user, the earliest "
            "(createdTime) record; links to this record are moved onto it.",
            "Nothing if it is the same person. Otherwise give this record its own email in "
            f"Airtable, {DELTA_HINT}.",
        ),
        _rule(
            "missing_required_field",
            _R,
            "A field v2 requires is empty and nothing sensible can be derived: users.email, "
            "users.first_name when display_name is empty too, referrals.content.",
            f"Fill the field in Airtable, {DELTA_HINT}.",
        ),
        _rule(
            "invalid_email",
            _R,
            "users.email is not an address (no single @, or whitespace inside), or has capital "
            "letters outside ASCII, which the database's lower() might fold differently.",
            f"Correct the email in Airtable, {DELTA_HINT}.",
        ),
        _rule(
            "derived_required_field",
            _F,
            "A required field was empty and was derived: users.first_name from display_name, "
            "events.name from the slug, projects.name 'Untitled project', events.slug from the "
            "name, a missing join_code generated.",
            "Check the derived value (in details); edit it in v2, or in Airtable then delta.",
        ),
        _rule(
            "missing_required_link",
            _R,
            "A link v2 requires is empty: events.owner, projects.event/owner, votes.voter/project, "
            "referrals.user/event.",
            f"Set the link in Airtable, {DELTA_HINT}.",
        ),
        _rule(
            "dangling_link",
            _R,
            "A required link points at a record that exists nowhere in the base (deleted).",
            f"Point the link at an existing record in Airtable, {DELTA_HINT}; or accept the loss.",
        ),
        _rule(
            "dangling_link_dropped",
            _F,
            "A link list (events.attendees, projects.collaborators) holds ids of records that "
            "exist nowhere; the record is migrated without those links (listed in details).",
            "Nothing, unless the linked records should exist: then restore them and run delta.",
        ),
        _rule(
            "link_to_rejected_record",
            _R,
            "A required link points at a record that was itself rejected (see that record's "
            "entry), so this one cannot land either.",
            f"Fix the linked record in Airtable, {DELTA_HINT}; this record is retried with it.",
        ),
        _rule(
            "multiple_links",
            _F,
            "A single link (owner, event, voter, project, user) holds several records; the first "
            "is kept, the others are listed in details.",
            "Check that the first record is the right one; fix in v2 or in Airtable then delta.",
        ),
        _rule(
            "vote_event_derived",
            _F,
            "A vote without an event link: its event is taken from its project (the only value "
            "v2 allows).",
            "Nothing.",
        ),
        _rule(
            "duplicate_vote",
            _R,
            "A second vote by the same voter for the same project: the earliest vote is kept "
            "(related_record_id), this one is not migrated.",
            "Nothing: v2 allows one vote per voter and project.",
        ),
        _rule(
            "vote_event_mismatch",
            _R,
            "The vote's event is not its project's event (v2's schema forbids it).",
            f"Correct the vote's project or event in Airtable, {DELTA_HINT}; or accept the loss.",
        ),
        _rule(
            "vote_by_non_attendee",
            _R,
            "The voter does not attend the vote's event. Not migrated rather than inventing an "
            "attendance: in v2 removing an attendee removes their votes, and v1 only let "
            "attendees vote, so such a vote belongs to someone who was removed.",
            "If the voter did attend, add them to the event's attendees in Airtable, "
            f"{DELTA_HINT}.",
        ),
        _rule(
            "vote_for_own_project",
            _R,
            "The voter owns or collaborates on the project; v2 refuses such votes.",
            "Nothing: the vote was against the rules.",
        ),
        _rule(
            "points_mismatch",
            _N,
            "v1's stored points differ from the number of votes linked to the project. v2 does "
            "not store points: it counts the migrated votes, so the leaderboard may change.",
            "Tell the event's organiser if the event's results matter; nothing to fix.",
        ),
        _rule(
            "formula_error",
            _N,
            'A computed (lookup) field holds an error value ({"error": "#ERROR!"} or '
            '{"specialValue": ...}). Computed fields are not migrated.',
            "Nothing for the migration; the Airtable formula is broken.",
        ),
        _rule(
            "formula_error_value",
            _F,
            "A migrated field holds a formula error value; it is migrated as empty.",
            "Fill the field in v2, or fix it in Airtable then delta.",
        ),
        _rule(
            "invalid_value",
            _F,
            "A field holds a value of the wrong type (e.g. a list in a text field), migrated as "
            "empty, or text with NUL characters, which PostgreSQL cannot store: removed.",
            "Check the migrated value.",
        ),
        _rule(
            "invalid_dob",
            _F,
            "users.dob is not a real YYYY-MM-DD date; migrated as empty (no guessing of "
            "day/month order).",
            "Nothing, or ask the user; the original text is in the record.",
        ),
        _rule(
            "invalid_hours_spent",
            _F,
            "projects.hours_spent is negative or not a number (migrated as 0) or fractional "
            "(rounded).",
            "Nothing, or ask the team; the original value is in the record.",
        ),
        _rule(
            "invalid_feature_flag",
            _F,
            "events.feature_flags_csv holds names outside [a-zA-Z0-9_]+; they are dropped "
            "(v1 compared names exactly, so they never switched anything on).",
            "Re-add the intended flag in v2 if one was meant.",
        ),
        _rule(
            "invalid_cached_auto_quality",
            _F,
            "projects.cached_auto_quality is not a JSON object; migrated as empty.",
            "Nothing: the quality check runs again on demand.",
        ),
        _rule(
            "duplicate_slug",
            _F,
            "events.slug is taken by an earlier event (related_record_id); this one gets the slug "
            "with a suffix derived from its record id.",
            "Tell the organiser the new URL, or choose another slug in v2.",
        ),
        _rule(
            "invalid_slug",
            _F,
            "events.slug does not match ^[-a-z0-9]{1,50}$; it is re-derived from it.",
            "Tell the organiser the new URL if it changed.",
        ),
        _rule(
            "duplicate_join_code",
            _F,
            "The join code (case-insensitive) is taken by an earlier record of the same table "
            "(related_record_id); this one gets a new code derived from its record id.",
            "Tell the organiser or team the new code (in details).",
        ),
        _rule(
            "invalid_join_code",
            _F,
            "The join code does not match ^[A-Z0-9]{4,16}$ even upper-cased; a new one is "
            "derived from the record id.",
            "Tell the organiser or team the new code (in details).",
        ),
        _rule(
            "value_too_long",
            _F,
            "A text is longer than its v2 column; it is truncated (full text in the record).",
            "Shorten it by hand in v2 if the cut matters.",
        ),
        _rule(
            "missing_demo",
            _N,
            "A project has no demo link although its event requires one; migrated as is (v1 "
            "accepted it; v2 checks it on create and update).",
            "Nothing, or ask the team for a demo link.",
        ),
    )
}


@dataclass
class Issue:
    """One rule one record broke, with what the operator needs to act on it."""

    rule: Rule
    message: str
    related_record_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def disposition(self) -> Disposition:
        return self.rule.disposition


def issue(rule: str, message: str, related_record_id: str | None = None, **details: Any) -> Issue:
    return Issue(RULES[rule], message, related_record_id, details)

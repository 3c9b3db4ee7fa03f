"""users: one v2 user per email (strip + lower-case); the earliest record of an email survives."""

from __future__ import annotations

from collections.abc import Sequence

from podium.backfill.context import Context
from podium.backfill.plan import AirtableRecord, Existing, Outcome, Row, StagePlan, finish_records
from podium.backfill.rules import issue
from podium.backfill.tables import COMPUTED_FIELDS
from podium.backfill.values import (
    EMAIL,
    FieldReader,
    display_name_for,
    normalise_email,
    parse_dob,
    truncate,
)

_LIMITS = {
    "display_name": 100,
    "last_name": 100,
    "phone": 50,
    "street_1": 200,
    "street_2": 200,
    "city": 100,
    "state": 100,
    "zip_code": 20,
    "country": 100,
}


def plan_users(
    records: Sequence[AirtableRecord], context: Context, existing: Existing, *, full: bool
) -> StagePlan:
    plan = StagePlan("users", full, record_ids={record["id"] for record in records})
    outcomes: list[Outcome] = []
    rows: dict[str, Row] = {}
    for record in records:
        outcome = Outcome("users", record)
        reader = FieldReader(record.get("fields", {}), computed=COMPUTED_FIELDS["users"])
        raw_email = reader.text("email")
        email = normalise_email(raw_email) or raw_email
        if not email:
            outcome.add(issue("missing_required_field", "email is empty", fields=["email"]))
        elif len(email) > 254 or not EMAIL.match(email) or normalise_email(raw_email) is None:
            outcome.add(issue("invalid_email", f"{raw_email!r} is not a usable email address"))
        texts = {name: reader.text(name) for name in _LIMITS}
        first_name = reader.text("first_name")
        if not first_name:
            words = texts["display_name"].split()
            if words:
                first_name = words[0]
                outcome.add(
                    issue(
                        "derived_required_field",
                        "first_name is empty; taken from display_name",
                        values={"first_name": first_name},
                    )
                )
            else:
                outcome.add(
                    issue(
                        "missing_required_field",
                        "first_name and display_name are empty",
                        fields=["first_name"],
                    )
                )
        first_name = truncate(first_name, 50, "first_name", outcome.issues)
        for name, limit in _LIMITS.items():
            texts[name] = truncate(texts[name], limit, name, outcome.issues)
        dob_text = reader.text("dob")
        dob = parse_dob(dob_text) if dob_text else None
        if dob_text and dob is None:
            outcome.add(
                issue("invalid_dob", f"dob {dob_text!r} is not a YYYY-MM-DD date", value=dob_text)
            )
        if not texts["display_name"]:
            texts["display_name"] = display_name_for(first_name, texts["last_name"])[:100]
        outcome.add(*reader.finish())
        rows[outcome.id] = {
            "id": existing.row_id("users", outcome.id),
            "airtable_id": outcome.id,
            "created_at": outcome.created,
            "email": email,
            "first_name": first_name,
            "dob": dob,
            **texts,
        }
        outcomes.append(outcome)

    # One user per email: rows this batch does not rewrite keep theirs; otherwise the earliest.
    holders: dict[str, str] = {}
    for row in existing.occupants("users", plan.record_ids):
        key = row["airtable_id"] or f"v2:{row['id']}"
        holders[row["email"]] = key
        context.users.setdefault(key, row["id"])  # so links merged onto it resolve
    for outcome in sorted(outcomes, key=lambda item: (item.created, item.id)):
        if not outcome.lands:
            continue
        email = rows[outcome.id]["email"]
        holder = holders.setdefault(email, outcome.id)
        if holder != outcome.id:
            context.user_alias[outcome.id] = holder
            outcome.add(
                issue(
                    "merged_duplicate_email",
                    f"email {email!r} belongs to {holder}; merged onto it",
                    related_record_id=None if holder.startswith("v2:") else holder,
                    survivor=holder,
                )
            )

    landed = finish_records(plan, outcomes, rows, "users")
    merged = {
        record_id: context.user_alias[record_id]
        for record_id in plan.rejected
        if record_id in context.user_alias
    }
    if full:
        survivors = set(merged.values())
        context.users = {key: uid for key, uid in context.users.items() if key in survivors}
        context.user_alias = {}
    for record_id in plan.record_ids:
        context.users.pop(record_id, None)
        context.user_alias.pop(record_id, None)
    context.users.update({record_id: rows[record_id]["id"] for record_id in landed})
    context.user_alias.update(merged)
    context.replace_rejected("users", plan.rejected - set(merged), full=full, batch=plan.record_ids)
    return plan

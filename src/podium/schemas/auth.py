"""Magic-link login shapes, and the redirect a login link may carry."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from podium.schemas.common import RequestBody
from podium.schemas.users import LookupEmail, UserPrivate

REDIRECT_MAX_LENGTH = 2000


def _local_path(value: str) -> str:
    # v1's frontend always sends the parameter, empty when there is nowhere to go back to.
    if value == "":
        return value
    # Browsers read "//host" and "/\\host" as another site and drop tabs and newlines inside
    # URLs, so only a plain path on this site gets through; checked decoded too, in case the
    # frontend decodes it once more.
    if any(ch <= " " or ch == "\x7f" for ch in value):
        raise ValueError("must not contain spaces or control characters")
    for form in (value, unquote(value)):
        if not form.startswith("/") or form.startswith("//"):
            raise ValueError("must be a path on this site, starting with a single '/'")
        if "\\" in form or any(ch < " " or ch == "\x7f" for ch in form):
            raise ValueError("must not contain backslashes or control characters")
    return value


RedirectPath = Annotated[
    str, StringConstraints(max_length=REDIRECT_MAX_LENGTH), AfterValidator(_local_path)
]


class LoginRequest(RequestBody):
    email: LookupEmail


class LoginRequested(BaseModel):
    """The login link is on its way; it works for `expires_in_minutes`."""

    # Always sent: the spec lists it as required, so generated clients need no `?`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    sent: Literal[True] = True
    expires_in_minutes: int


class Session(BaseModel):
    """An access token for `Authorization: Bearer …`, and the user it belongs to."""

    # Always sent: the spec lists it as required, so generated clients need no `?`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserPrivate

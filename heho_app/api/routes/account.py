"""Who the key belongs to, and rotating the key itself."""

from fastapi import APIRouter, Response

from heho_app.api import API_PREFIX
from heho_app.api.deps import CurrentKey, CurrentUser
from heho_app.api.errors import INVALID_KEY_MESSAGE, ApiError
from heho_app.api.schemas import RotatedKey, UserProfile
from heho_app.db import session_scope
from heho_app.services.api_keys import ApiKeyError, rotate_api_key

router = APIRouter(prefix=API_PREFIX, tags=["account"])


@router.post("/verify-user")
def verify_user(user: CurrentUser) -> UserProfile:
    """The profile of the key's owner; a cheap way to check that a key works."""
    assert user.id is not None
    return UserProfile(
        id=user.id,
        email=user.email,
        created_at=user.created_at,
        verified=user.email_verified_at is not None,
    )


@router.post("/keys/rotate", status_code=201)
def rotate_key(key: CurrentKey, response: Response) -> RotatedKey:
    """Revoke the calling key and return its successor (same name and rate limit).

    The new key is in this response only. The old key stops working at once.
    """
    try:
        with session_scope() as session:
            new = rotate_api_key(session, user_id=key.user_id, key_id=key.id)
    except ApiKeyError:  # revoked by a concurrent request since the guard checked it
        raise ApiError(401, INVALID_KEY_MESSAGE, headers={"WWW-Authenticate": "Bearer"}) from None
    response.headers["Cache-Control"] = "no-store"
    return RotatedKey.of(new)

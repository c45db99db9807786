"""FastAPI dependencies: the caller's key and user.

The guard middleware has already verified the bearer key and counted it against
the rate limit; `get_current_key` hands that result to a route and declares the
bearer security scheme in the OpenAPI spec. A new route needs nothing more than
a `CurrentKey` or `CurrentUser` parameter (e.g. the chat endpoints).

There is deliberately no session dependency: a session opened in a dependency
holds its connection while the request waits for a worker thread for the route,
and under a burst every thread ends up waiting for a connection that such a
request holds. Routes open `heho_app.db.session_scope()` inside their own body.
"""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from heho_app.api.errors import INVALID_KEY_MESSAGE, ApiError
from heho_app.api.guard import CONTEXT_KEY, RequestContext
from heho_app.db import session_scope
from heho_app.models import User
from heho_app.services.api_keys import VerifiedKey

bearer_scheme = HTTPBearer(
    scheme_name="HeHoApiKey",
    bearerFormat="heho_<prefix>_<secret>",
    description="A HeHo API key, sent as `Authorization: Bearer heho_…`; never in a URL.",
    auto_error=False,
)


def _unauthorized() -> ApiError:
    return ApiError(401, INVALID_KEY_MESSAGE, headers={"WWW-Authenticate": "Bearer"})


def get_context(request: Request) -> RequestContext:
    context = request.scope.get(CONTEXT_KEY)
    if not isinstance(context, RequestContext):
        raise _unauthorized()  # the guard is not in front of this app: fail closed
    return context


async def get_current_key(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> VerifiedKey:
    key = get_context(request).key
    if key is None:
        raise _unauthorized()
    return key


CurrentKey = Annotated[VerifiedKey, Depends(get_current_key)]


def get_current_user(key: CurrentKey) -> User:
    with session_scope() as session:
        user = session.get(User, key.user_id)
    if user is None:
        raise _unauthorized()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

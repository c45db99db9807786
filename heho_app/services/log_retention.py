"""How long HeHo keeps its request logs: the API access log (client addresses) and
the key access log are deleted after `HEHO_LOG_RETENTION_DAYS`.

The audit log is not pruned here: it is the user's record of what their chatbots did
to their data, a hash chain that a deleted head would break, and it goes with the
account when the account is deleted.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session

from heho_app.db import session_scope
from heho_app.models import AccessLogEntry, KeyAccessEvent, utcnow
from heho_app.settings import get_settings

logger = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class Pruned:
    access_log: int
    key_access_log: int


def prune_logs(session: Session, *, now: datetime | None = None) -> Pruned:
    """Delete access and key access log entries older than the retention period."""
    cutoff = (now or utcnow()) - timedelta(days=get_settings().log_retention_days)
    deleted = [
        session.execute(delete(table).where(table.created_at < cutoff))  # type: ignore[arg-type]
        for table in (AccessLogEntry, KeyAccessEvent)
    ]
    return Pruned(*(result.rowcount for result in deleted))


async def prune_logs_periodically(interval: float = PRUNE_INTERVAL_SECONDS) -> None:
    """Prune now and then every `interval` seconds, for as long as the app runs. Each
    worker runs it; deleting what another worker deleted already is harmless."""
    while True:
        try:
            pruned = await asyncio.to_thread(_prune_in_own_session)
            if pruned.access_log or pruned.key_access_log:
                logger.info(
                    "log retention: deleted %d access log and %d key access log entries",
                    pruned.access_log,
                    pruned.key_access_log,
                )
        except Exception:
            logger.exception("log retention: pruning failed; trying again later")
        await asyncio.sleep(interval)


def _prune_in_own_session() -> Pruned:
    with session_scope() as session:
        return prune_logs(session)

"""The REST API's access log: one `AccessLogEntry` row per request.

Requests only put a record on a queue; one daemon thread per process writes the
queue in batches (and records keys' last use), so a request never waits for the
database. If the queue is full (the database is down or far behind), records are
dropped with a warning rather than slowing the API.
"""

import atexit
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

from sqlalchemy.engine import Engine
from sqlmodel import Session

from heho_app.db import get_engine
from heho_app.models import AccessLogEntry
from heho_app.services.api_keys import KEY_LIKE, touch_api_keys

logger = logging.getLogger(__name__)

PATH_MAX = 500
QUEUE_MAX = 10_000
BATCH_MAX = 500
_KEY_IN_PATH = re.compile(KEY_LIKE.pattern)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AccessRecord:
    created_at: datetime
    method: str
    path: str
    status: int
    duration_ms: float
    client_address: str
    user_id: int | None = None
    key_id: int | None = None
    key_prefix: str | None = None


def _printable(text: str) -> str:
    """Control characters (NUL cannot be stored in PostgreSQL) and lone surrogates, escaped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def loggable_path(path: str, query_string: bytes) -> str:
    """The path with anything key-like masked, and the query's names without values."""
    path = _KEY_IN_PATH.sub("[redacted]", path)
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    if names:
        path += "?" + "&".join(f"{_KEY_IN_PATH.sub('[redacted]', name)}=" for name in names)
    return _printable(path)[:PATH_MAX]


class AccessLogWriter:
    def __init__(self, engine_factory: Callable[[], Engine] = get_engine) -> None:
        self._engine_factory = engine_factory
        self._queue: queue.Queue[AccessRecord] = queue.Queue(maxsize=QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(self, entry: AccessRecord) -> None:
        """Queue one record; never blocks."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            logger.warning("access log queue full: a record was dropped")

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is written (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="heho-access-log", daemon=True
                )
                self._thread.start()
                atexit.register(self.flush, 2.0)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:
                logger.exception("could not write %d access log records", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(self, batch: list[AccessRecord]) -> None:
        with Session(self._engine_factory()) as session:
            session.add_all(
                AccessLogEntry(
                    created_at=entry.created_at,
                    user_id=entry.user_id,
                    key_prefix=entry.key_prefix,
                    method=entry.method[:10],
                    path=entry.path,
                    status=entry.status,
                    duration_ms=entry.duration_ms,
                    client_address=entry.client_address[:64],
                )
                for entry in batch
            )
            touch_api_keys(session, {e.key_id for e in batch if e.key_id is not None})
            session.commit()

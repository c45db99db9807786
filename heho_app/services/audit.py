"""Append-only, hash-chained audit log of the chatbots' autonomous operations.

Each user's events form a chain: `seq` counts up from 1 and `row_hash` is an
HMAC-SHA256 of the event's canonical JSON, which includes the previous event's hash,
under a key derived from HEHO_ENCRYPTION_KEYS. Editing or removing an event breaks
the chain at that point; `verify_chain` (and `heho audit verify`) names the first
broken link. Whoever can write HeHo's database but does not hold the keys cannot
re-seal an edited chain. Removing the newest events of a chain leaves a shorter
valid chain: that is the one thing a chain alone cannot show.
"""

import argparse
import csv
import functools
import hashlib
import hmac
import io
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import bindparam, exists, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col
from sqlmodel import select as model_select

from heho_app.db import get_engine
from heho_app.models import AuditEvent
from heho_app.services.credentials import get_keyring
from heho_app.services.crypto import Keyring

GENESIS_HASH = "0" * 64
SEAL_LABEL = b"heho audit chain v1"
REDACTED = "[redacted]"
APPEND_ATTEMPTS = 8
_TABLE = AuditEvent.__table__  # type: ignore[attr-defined]
HASHED_FIELDS = (
    "user_id",
    "seq",
    "chatbot_id",
    "conversation_id",
    "completes_id",
    "tool",
    "table_name",
    "operation",
    "filters",
    "rows_affected",
    "outcome",
    "duration_ms",
    "error_code",
    "detail",
    "created_at",
    "prev_hash",
)
CSV_FIELDS = ("id", *HASHED_FIELDS, "row_hash")


class Outcome(StrEnum):
    pending = "pending"
    ok = "ok"
    denied = "denied"
    failed = "failed"


class AuditUnavailable(RuntimeError):
    """The audit event could not be written: the operation must not run."""


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(fields: dict) -> bytes:
    """The hashed fields (which include prev_hash) as canonical JSON."""
    canonical = {name: fields.get(name) for name in HASHED_FIELDS}
    canonical["created_at"] = _timestamp(fields["created_at"])
    if canonical["duration_ms"] is not None:
        canonical["duration_ms"] = round(float(canonical["duration_ms"]), 3)
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return encoded.encode()


def seal_keys(keyring: Keyring | None = None) -> tuple[bytes, ...]:
    """The chain's keys, from HEHO_ENCRYPTION_KEYS (or `keyring`): the first seals,
    all verify."""
    return _derived_seal_keys(keyring or get_keyring())


@functools.cache
def _derived_seal_keys(keyring: Keyring) -> tuple[bytes, ...]:
    return keyring.mac_keys(SEAL_LABEL)  # derived once per keyring, not per event


def compute_hash(fields: dict, key: bytes | None = None) -> str:
    """The event's seal: HMAC-SHA256 of its canonical JSON (under the sealing key)."""
    return hmac.new(key or seal_keys()[0], canonical_json(fields), hashlib.sha256).hexdigest()


def is_sealed(fields: dict, keys: Sequence[bytes]) -> bool:
    """Whether `row_hash` is the event's seal under one of `keys`."""
    return any(hmac.compare_digest(compute_hash(fields, key), fields["row_hash"]) for key in keys)


def summarize_filters(filters: object, *, log_values: bool) -> str:
    """Filter columns and operators as JSON; values only when the owner allows it."""
    if not isinstance(filters, list):
        return "[]"
    summary = []
    for item in filters[:50]:
        if not isinstance(item, dict):
            summary.append({"malformed": True})
            continue
        entry = {"column": str(item.get("column"))[:63], "op": str(item.get("op"))[:10]}
        if "value" in item:
            entry["value"] = item["value"] if log_values else REDACTED
        summary.append(entry)
    text = json.dumps(summary, default=str, ensure_ascii=False)
    return text if len(text) <= 8000 else text[:7990] + "…"


_INSERT_COLUMNS = (*HASHED_FIELDS, "row_hash")
_CASTS = {"seq": "INTEGER", "completes_id": "INTEGER", "rows_affected": "INTEGER",
          "user_id": "INTEGER", "duration_ms": "FLOAT"}  # fmt: skip
_SELECTED = ", ".join(
    f"CAST(:{name} AS {_CASTS[name]})" if name in _CASTS else f":{name}" for name in _INSERT_COLUMNS
)
_BIND_TYPES = [bindparam(name, type_=_TABLE.c[name].type) for name in _INSERT_COLUMNS]
_APPEND_AFTER = text(
    f"INSERT INTO audit_events ({', '.join(_INSERT_COLUMNS)}) SELECT {_SELECTED} "  # noqa: S608 - fixed names  # nosec B608
    "WHERE EXISTS (SELECT 1 FROM audit_events WHERE user_id = :user_id "
    "AND seq = :head_seq AND row_hash = :prev_hash) RETURNING id"
).bindparams(*_BIND_TYPES)
_APPEND_FIRST = text(
    f"INSERT INTO audit_events ({', '.join(_INSERT_COLUMNS)}) SELECT {_SELECTED} "  # noqa: S608 - fixed names  # nosec B608
    "WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE user_id = :user_id) RETURNING id"
).bindparams(*_BIND_TYPES)
_HEAD = (
    select(_TABLE.c.seq, _TABLE.c.row_hash)
    .where(_TABLE.c.user_id == bindparam("user_id"))
    .order_by(_TABLE.c.seq.desc())
    .limit(1)
)
_heads: dict[tuple[str, int], tuple[int, str]] = {}
_append_lock = threading.Lock()


class _StaleHead(Exception):
    """The cached head of the chain is no longer its head."""


def _append(engine: Engine, values: dict) -> int:
    """Append one event at the head of the user's chain; returns its id.

    The head (seq, hash) is cached per process so that an append is one INSERT. The
    INSERT lands only if that head is still the head: the unique (user_id, seq) stops
    a concurrent writer, the EXISTS a head that vanished; then the head is re-read.
    """
    key = (str(engine.url), values["user_id"])
    with _append_lock:
        for _attempt in range(APPEND_ATTEMPTS):
            try:
                with engine.begin() as conn:
                    event_id, row = _insert_at_head(conn, key, values)
                    if event_id is None:
                        raise _StaleHead
            except (_StaleHead, IntegrityError):
                _heads.pop(key, None)
                continue
            _heads[key] = (row["seq"], row["row_hash"])
            return event_id
    raise AuditUnavailable("could not append to the audit chain (too much contention)")


def _insert_at_head(
    conn: Connection, key: tuple[str, int], values: dict
) -> tuple[int | None, dict]:
    head = _heads.get(key)
    if head is None:
        found = conn.execute(_HEAD, {"user_id": values["user_id"]}).first()
        head = (found.seq, found.row_hash) if found else (0, GENESIS_HASH)
    row = {**values, "seq": head[0] + 1, "prev_hash": head[1], "created_at": datetime.now(UTC)}
    if row.get("duration_ms") is not None:
        row["duration_ms"] = round(float(row["duration_ms"]), 3)
    row["row_hash"] = compute_hash(row)
    statement = _APPEND_AFTER if head[0] else _APPEND_FIRST
    return conn.execute(statement, {**row, "head_seq": head[0]}).scalar(), row


@dataclass(frozen=True)
class PendingEvent:
    """The `pending` event written before an operation; `finish_event` completes it."""

    id: int
    values: dict


def start_event(
    *,
    user_id: int,
    tool: str,
    chatbot_id: str | None = None,
    conversation_id: str | None = None,
    table_name: str | None = None,
    operation: str | None = None,
    filters: str = "[]",
    engine: Engine | None = None,
) -> PendingEvent:
    """Write the `pending` event before an operation starts."""
    values = {
        "user_id": user_id,
        "chatbot_id": chatbot_id,
        "conversation_id": conversation_id,
        "completes_id": None,
        "tool": tool[:40],
        "table_name": table_name[:200] if table_name else None,
        "operation": operation,
        "filters": filters,
        "rows_affected": None,
        "outcome": Outcome.pending.value,
        "duration_ms": None,
        "error_code": None,
        "detail": None,
    }
    try:
        return PendingEvent(id=_append(engine or get_engine(), values), values=values)
    except AuditUnavailable:
        raise
    except Exception as error:
        raise AuditUnavailable(f"audit log unavailable ({type(error).__name__})") from error


def finish_event(
    pending: PendingEvent,
    *,
    outcome: Outcome | str,
    rows_affected: int | None = None,
    duration_ms: float | None = None,
    error_code: str | None = None,
    detail: str | None = None,
    engine: Engine | None = None,
) -> int:
    """Append the completing event of `pending` (same metadata, final outcome)."""
    return _append(
        engine or get_engine(),
        {
            **pending.values,
            "completes_id": pending.id,
            "rows_affected": rows_affected,
            "outcome": Outcome(outcome).value,
            "duration_ms": duration_ms,
            "error_code": error_code[:60] if error_code else None,
            "detail": detail[:2000] if detail else None,
        },
    )


class BrokenLink(BaseModel):
    user_id: int
    seq: int
    event_id: int | None
    reason: str


class VerifyReport(BaseModel):
    ok: bool
    events_checked: int
    chains_checked: int
    broken: list[BrokenLink]

    def describe(self) -> str:
        if self.ok:
            return (
                f"OK: {self.events_checked} audit events in "
                f"{self.chains_checked} chain(s) verified."
            )
        lines = [f"BROKEN: {len(self.broken)} chain(s) fail verification."]
        lines += [
            f"  user {link.user_id}: first broken link at seq {link.seq}"
            f" (event id {link.event_id}): {link.reason}"
            for link in self.broken
        ]
        return "\n".join(lines)


def _verify_user(
    rows: Sequence, user_id: int, is_valid: Callable[[dict], bool]
) -> BrokenLink | None:
    expected_prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        fields = dict(row)
        if fields["seq"] != expected_seq:
            return BrokenLink(
                user_id=user_id,
                seq=expected_seq,
                event_id=fields["id"],
                reason=f"event seq {expected_seq} is missing (next found: {fields['seq']})",
            )
        if fields["prev_hash"] != expected_prev:
            return BrokenLink(
                user_id=user_id,
                seq=expected_seq,
                event_id=fields["id"],
                reason="prev_hash does not match the previous event (an event was "
                "removed or replaced)",
            )
        if not is_valid(fields):
            return BrokenLink(
                user_id=user_id,
                seq=expected_seq,
                event_id=fields["id"],
                reason="row_hash does not match the event's content (the event was edited, "
                "or sealed under a key HEHO_ENCRYPTION_KEYS no longer holds)",
            )
        expected_prev = fields["row_hash"]
    return None


def _chains(conn: Connection, user_id: int | None = None) -> dict[int, list[dict]]:
    """Every user's events (or one user's), in chain order."""
    query = select(_TABLE).order_by(_TABLE.c.user_id, _TABLE.c.seq)
    if user_id is not None:
        query = query.where(_TABLE.c.user_id == user_id)
    chains: dict[int, list[dict]] = {}
    for row in conn.execute(query).mappings():
        chains.setdefault(row["user_id"], []).append(dict(row))
    return chains


def verify_chain(
    user_id: int | None = None, *, engine: Engine | None = None, keyring: Keyring | None = None
) -> VerifyReport:
    """Recompute every chain (or one user's); report the first broken link of each."""
    engine = engine or get_engine()
    keys = seal_keys(keyring)
    with engine.connect() as conn:
        chains = _chains(conn, user_id)
    broken = [
        link
        for uid, chain in chains.items()
        if (link := _verify_user(chain, uid, lambda fields: is_sealed(fields, keys))) is not None
    ]
    return VerifyReport(
        ok=not broken,
        events_checked=sum(len(chain) for chain in chains.values()),
        chains_checked=len(chains),
        broken=broken,
    )


def list_events(
    session: Session,
    *,
    user_id: int,
    chatbot_id: str | None = None,
    table_name: str | None = None,
    outcome: Outcome | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    calls_only: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEvent]:
    """One user's events, newest first, filtered for the audit page and the REST API.

    `calls_only` gives one event per call: the completing events, plus the `pending`
    events that were never completed (the process stopped in between).
    """
    query = model_select(AuditEvent).where(AuditEvent.user_id == user_id)
    if calls_only:
        completion = aliased(AuditEvent)
        query = query.where(
            ~exists().where(completion.user_id == user_id, completion.completes_id == AuditEvent.id)
        )
    if chatbot_id is not None:
        query = query.where(AuditEvent.chatbot_id == chatbot_id)
    if table_name is not None:
        query = query.where(AuditEvent.table_name == table_name)
    if outcome is not None:
        query = query.where(AuditEvent.outcome == Outcome(outcome).value)
    if since is not None:
        query = query.where(col(AuditEvent.created_at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.created_at) < until)
    query = query.order_by(col(AuditEvent.seq).desc()).offset(offset).limit(min(limit, 10_000))
    return list(session.exec(query).all())


@dataclass(frozen=True)
class ResealReport:
    resealed: int
    """Events given a new seal."""
    broken_users: list[int]
    """Users whose chain did not verify: sealed up to its first broken link, the rest
    left as it was, so that verification still reports that link."""


def reseal(
    conn: Connection, *, is_valid: Callable[[dict], bool], seal: Callable[[dict], str]
) -> ResealReport:
    """Check every chain with `is_valid`, then seal it again with `seal` (up to its first
    broken link, if any), in `conn`'s transaction: for key rotation and for the
    migrations that change the seal."""
    resealed, broken_users = 0, []
    for user_id, chain in _chains(conn).items():
        broken = _verify_user(chain, user_id, is_valid)
        if broken is not None:
            broken_users.append(user_id)
        prev_hash = GENESIS_HASH
        for fields in chain[: broken.seq - 1] if broken else chain:
            fields["prev_hash"] = prev_hash
            row_hash = seal(fields)
            conn.execute(
                _TABLE.update()
                .where(_TABLE.c.id == fields["id"])
                .values(prev_hash=prev_hash, row_hash=row_hash)
            )
            prev_hash = row_hash
            resealed += 1
    _heads.clear()
    return ResealReport(resealed=resealed, broken_users=broken_users)


def reseal_under_primary_key(
    keyring: Keyring | None = None, *, engine: Engine | None = None
) -> ResealReport:
    """After a new first key in HEHO_ENCRYPTION_KEYS (`heho keys rotate`): every chain
    that verifies under the keyring is sealed again under its first key, so that the
    old keys can be dropped. Appends wait meanwhile (the table is locked)."""
    keys = seal_keys(keyring)
    engine = engine or get_engine()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE"))
        return reseal(
            conn,
            is_valid=lambda fields: is_sealed(fields, keys),
            seal=lambda fields: compute_hash(fields, keys[0]),
        )


def export_csv(events: Iterable[AuditEvent]) -> str:
    """CSV of the given events with every hashed field, so that an export can be
    re-verified by whoever holds the keys."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for event in events:
        values = []
        for name in CSV_FIELDS:
            value = getattr(event, name)
            values.append(_timestamp(value) if isinstance(value, datetime) else value)
        writer.writerow(values)
    return buffer.getvalue()


def run_audit_verify(args: argparse.Namespace) -> int:
    """`heho audit verify`: exit status 1 when a chain is broken, 2 when it cannot run."""
    try:
        report = verify_chain(getattr(args, "user_id", None))
    except SQLAlchemyError as error:
        name = type(error).__name__
        print(f"Cannot read the audit log ({name}): is REFLEX_DB_URL right and migrated?")
        return 2
    print(report.describe())
    return 0 if report.ok else 1


def add_audit_parser(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="audit log tools")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    verify = actions.add_parser("verify", help="check that no audit event was edited or removed")
    verify.add_argument("--user-id", type=int, default=None, help="check one user's chain")
    verify.set_defaults(handler=run_audit_verify)

"""The policy: may a chatbot do an operation on a table? Fail closed.

Per chatbot and table: read (on by default), insert and update (off), delete (off,
and only saved on with an explicit `confirm_delete`). A table without a grant, an
unknown operation or a grant row that does not validate is denied.
"""

import re
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import delete
from sqlmodel import Session, select

from heho_app.models import TableGrant

TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Operation(StrEnum):
    read = "read"
    insert = "insert"
    update = "update"
    delete = "delete"


class GrantError(ValueError):
    """A grant the user tried to save is malformed or lacks the delete opt-in."""


class TableGrantSpec(BaseModel):
    """One table's permissions, as the UI and API send them; unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    table: str = Field(pattern=TABLE_NAME.pattern)
    read: bool = True
    insert: bool = False
    update: bool = False
    delete: bool = False
    confirm_delete: bool = False

    @model_validator(mode="after")
    def _delete_needs_opt_in(self) -> "TableGrantSpec":
        if self.delete and not self.confirm_delete:
            raise ValueError(
                f"deleting rows of {self.table!r} needs an explicit opt-in (confirm_delete)"
            )
        return self

    def allows(self, operation: Operation) -> bool:
        return bool(getattr(self, operation.value))

    def operations(self) -> list[str]:
        return [op.value for op in Operation if self.allows(op)]


class Decision(BaseModel):
    allowed: bool
    reason: str = ""


class Policy(BaseModel):
    """All grants of one chatbot, keyed by exact table name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grants: dict[str, TableGrantSpec] = {}

    def decide(self, table: object, operation: object) -> Decision:
        try:
            op = Operation(operation)
        except ValueError:
            return Decision(allowed=False, reason=f"unknown operation {str(operation)[:40]!r}")
        if not isinstance(table, str) or table not in self.grants:
            return Decision(allowed=False, reason="this chatbot has no access to that table")
        if not self.grants[table].allows(op):
            return Decision(
                allowed=False,
                reason=f"this chatbot may not {op.value} rows of {table!r} "
                f"(allowed: {', '.join(self.grants[table].operations()) or 'nothing'})",
            )
        return Decision(allowed=True)

    def allows(self, table: object, operation: object) -> bool:
        return self.decide(table, operation).allowed

    def granted_tables(self) -> dict[str, list[str]]:
        """Tables with at least one allowed operation, and those operations."""
        return {name: g.operations() for name, g in sorted(self.grants.items()) if g.operations()}


def policy_from_rows(rows: Iterable[TableGrant]) -> Policy:
    """Build the policy from stored rows; a row that does not validate grants nothing."""
    grants: dict[str, TableGrantSpec] = {}
    for row in rows:
        try:
            spec = TableGrantSpec(
                table=row.table_name,
                read=row.can_read,
                insert=row.can_insert,
                update=row.can_update,
                delete=row.can_delete,
                confirm_delete=row.can_delete,
            )
        except ValidationError:
            continue
        grants[spec.table] = spec
    return Policy(grants=grants)


def load_policy(session: Session, chatbot_id: str) -> Policy:
    rows = session.exec(select(TableGrant).where(TableGrant.chatbot_id == chatbot_id)).all()
    return policy_from_rows(rows)


def parse_grants(data: Iterable[object]) -> list[TableGrantSpec]:
    """Validate grant data from the UI or API strictly; raises GrantError."""
    specs: list[TableGrantSpec] = []
    seen: set[str] = set()
    for item in data:
        try:
            spec = item if isinstance(item, TableGrantSpec) else TableGrantSpec.model_validate(item)
        except ValidationError as error:
            raise GrantError(_first_error(error)) from error
        if spec.table in seen:
            raise GrantError(f"table {spec.table!r} appears twice")
        seen.add(spec.table)
        specs.append(spec)
    return specs


def save_grants(session: Session, chatbot_id: str, data: Iterable[object]) -> Policy:
    """Replace the chatbot's grants with `data` (validated first; nothing saved on error)."""
    specs = parse_grants(data)
    session.execute(delete(TableGrant).where(TableGrant.chatbot_id == chatbot_id))
    for spec in specs:
        session.add(
            TableGrant(
                chatbot_id=chatbot_id,
                table_name=spec.table,
                can_read=spec.read,
                can_insert=spec.insert,
                can_update=spec.update,
                can_delete=spec.delete,
            )
        )
    session.flush()
    return Policy(grants={spec.table: spec for spec in specs})


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]

"""audit chain sealed with a key: HMAC-SHA256 under HEHO_ENCRYPTION_KEYS

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:45:00

Until 0001 an event's row_hash was a plain SHA-256 of its canonical JSON, which
anyone able to write HeHo's database could recompute after editing an event. The
chains that verify under SHA-256 are sealed again with the keyed seal of
heho_app/services/audit.py; a chain that does not verify is sealed up to its first
broken link and left as it is from there, so that `heho audit verify` keeps
reporting that link. Downgrading seals the chains with SHA-256 again.
"""

import hashlib
from collections.abc import Sequence

from alembic import op
from heho_app.services import audit

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sha256_seal(fields: dict) -> str:
    return hashlib.sha256(audit.canonical_json(fields)).hexdigest()


def _has_sha256_seal(fields: dict) -> bool:
    return _sha256_seal(fields) == fields["row_hash"]


def upgrade() -> None:
    keys = audit.seal_keys()
    audit.reseal(
        op.get_bind(),
        is_valid=_has_sha256_seal,
        seal=lambda fields: audit.compute_hash(fields, keys[0]),
    )


def downgrade() -> None:
    keys = audit.seal_keys()
    audit.reseal(
        op.get_bind(), is_valid=lambda fields: audit.is_sealed(fields, keys), seal=_sha256_seal
    )

import base64
import os
import subprocess
import sys

import pytest
from sqlmodel import Session, select

from heho_app.models import Chatbot, Credential, KeyAccessEvent, User
from heho_app.services.credentials import (
    SUPABASE,
    count_by_key_id,
    find_credential,
    reveal_credential,
    rotate_credentials,
    store_credential,
)
from heho_app.services.crypto import Keyring

OLD = Keyring.parse(f"old:{base64.b64encode(b'o' * 32).decode()}")
NEW_SPEC = f"new:{base64.b64encode(b'n' * 32).decode()},old:{base64.b64encode(b'o' * 32).decode()}"
NEW = Keyring.parse(NEW_SPEC)


def _seed(db: Session, users: int, bots_per_user: int) -> dict[int, str]:
    """Store one Supabase key per chatbot under the old key; return plaintexts by id."""
    plaintexts: dict[int, str] = {}
    for user_number in range(users):
        user = User(email=f"rotate{user_number}@example.com", password_hash="x")
        db.add(user)
        db.flush()
        for bot_number in range(bots_per_user):
            bot = Chatbot(user_id=user.id, name=f"bot {bot_number}")
            db.add(bot)
            db.flush()
            secret = f"service-key-{user_number}-{bot_number}"
            credential = store_credential(
                db,
                user_id=user.id,
                kind=SUPABASE,
                plaintext=secret,
                chatbot_id=bot.id,
                keyring=OLD,
            )
            plaintexts[credential.id] = secret
    db.commit()
    return plaintexts


def _assert_all_readable_under_new(db: Session, plaintexts: dict[int, str]) -> None:
    new_only = Keyring.parse(NEW_SPEC.split(",")[0])
    credentials = db.exec(select(Credential)).all()
    assert len(credentials) == len(plaintexts)
    for credential in credentials:
        assert credential.key_id == "new"
        assert (
            reveal_credential(db, credential, purpose="test", keyring=new_only)
            == (plaintexts[credential.id])
        )


class ExplodingKeyring(Keyring):
    """Fails after a number of re-encryptions, like a process killed mid-batch."""

    budget: list[int]

    def reencrypt(self, ciphertext: str, *, owner, purpose) -> str:
        if self.budget[0] == 0:
            raise KeyboardInterrupt
        self.budget[0] -= 1
        return super().reencrypt(ciphertext, owner=owner, purpose=purpose)


def test_rotation_moves_a_thousand_credentials(db, migrated_engine):
    plaintexts = _seed(db, users=20, bots_per_user=50)
    assert count_by_key_id(db) == {"old": 1000}

    report = rotate_credentials(lambda: Session(migrated_engine), keyring=NEW, batch_size=150)

    assert report.moved == 1000
    assert report.remaining_by_key_id == {}
    db.expire_all()
    _assert_all_readable_under_new(db, plaintexts)


def test_rotation_interrupted_halfway_then_run_again(db, migrated_engine):
    plaintexts = _seed(db, users=20, bots_per_user=50)
    exploding = ExplodingKeyring(NEW.keys)
    object.__setattr__(exploding, "budget", [550])

    with pytest.raises(KeyboardInterrupt):
        rotate_credentials(lambda: Session(migrated_engine), keyring=exploding, batch_size=100)

    db.expire_all()
    assert count_by_key_id(db) == {"new": 500, "old": 500}
    for credential in db.exec(select(Credential)).all():
        assert (
            reveal_credential(db, credential, purpose="t", keyring=NEW)
            == (plaintexts[credential.id])
        )

    report = rotate_credentials(lambda: Session(migrated_engine), keyring=NEW, batch_size=100)
    assert report.moved == 500
    db.expire_all()
    _assert_all_readable_under_new(db, plaintexts)


def test_keys_rotate_command_reports_moved_and_remaining(db):
    _seed(db, users=3, bots_per_user=5)
    env = {**os.environ, "HEHO_ENCRYPTION_KEYS": NEW_SPEC}

    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "heho_app.cli",
            "keys",
            "rotate",
            "--batch-size",
            "4",
            "--max-batches",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "moved 8 credentials to key id 'new'" in first.stdout
    assert "remaining on key id 'old': 7" in first.stdout
    assert "audit events" not in first.stdout  # sealed again once every credential moved

    second = subprocess.run(
        [sys.executable, "-m", "heho_app.cli", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "moved 7 credentials" in second.stdout
    assert "remaining on old key ids: 0" in second.stdout
    assert "sealed 0 audit events under key id 'new'" in second.stdout


def test_revealing_a_key_is_logged(db):
    user = User(email="log@example.com", password_hash="x")
    db.add(user)
    db.flush()
    store_credential(db, user_id=user.id, kind="openrouter", plaintext="sk-or-123456")
    db.commit()
    credential = find_credential(db, user_id=user.id, kind="openrouter")
    assert credential.last4 == "3456"
    assert "sk-or" not in credential.ciphertext

    assert reveal_credential(db, credential, purpose="chat turn") == "sk-or-123456"
    db.commit()

    event = db.exec(select(KeyAccessEvent)).one()
    assert (event.user_id, event.credential_kind, event.purpose) == (
        user.id,
        "openrouter",
        "chat turn",
    )

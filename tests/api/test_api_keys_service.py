from datetime import timedelta

import pytest
from sqlmodel import select

from heho_app.models import ApiKey, utcnow
from heho_app.services.api_keys import (
    KEY_PATTERN,
    ApiKeyError,
    hash_key,
    list_api_keys,
    revoke_api_key,
    rotate_api_key,
    touch_api_keys,
    verify_api_key,
)
from tests.api.conftest import add_key, add_user


def test_a_new_key_is_shown_once_and_only_its_hash_is_stored(db):
    user = add_user(db)
    new = add_key(db, user, limit=42, name="  ci  ")
    assert KEY_PATTERN.match(new.plaintext)
    assert new.plaintext.startswith(f"heho_{new.info.prefix}_")
    assert len(new.plaintext.rsplit("_", 1)[1]) >= 43  # ≥ 256 bits of base62
    row = db.exec(select(ApiKey)).one()
    assert row.name == "ci" and row.rate_limit_per_minute == 42
    assert row.key_hash == hash_key(new.plaintext) != new.plaintext
    assert new.plaintext not in str(row.model_dump())
    secret = new.plaintext.rsplit("_", 1)[1]
    assert all(secret not in str(value) for value in row.model_dump().values())


def test_default_rate_limit_comes_from_settings(db):
    new = add_key(db, add_user(db))
    assert new.info.rate_limit_per_minute == 60


def test_verify_accepts_the_key_and_refuses_everything_else_alike(db):
    user = add_user(db)
    new = add_key(db, user)
    verified = verify_api_key(db, new.plaintext)
    assert verified is not None
    assert (verified.user_id, verified.prefix) == (user.id, new.info.prefix)

    prefix, secret = new.info.prefix, new.plaintext.rsplit("_", 1)[1]
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for presented in (
        f"heho_{prefix}_{flipped}",  # right prefix, wrong secret
        f"heho_{'0' * 12}_{secret}",  # unknown prefix
        new.plaintext + "x",  # malformed
        new.plaintext.upper(),
        "",
        "Bearer " + new.plaintext,
    ):
        assert verify_api_key(db, presented) is None, presented

    revoke_api_key(db, user_id=user.id, key_id=new.info.id)
    db.commit()
    assert verify_api_key(db, new.plaintext) is None


def test_a_different_secret_key_invalidates_stored_hashes(db):
    new = add_key(db, add_user(db))
    assert hash_key(new.plaintext, "another-secret") != hash_key(new.plaintext)


def test_list_shows_names_prefixes_and_dates_but_no_hash(db):
    user, other = add_user(db), add_user(db)
    first = add_key(db, user, name="first")
    second = add_key(db, user, name="second")
    add_key(db, other, name="not mine")
    revoke_api_key(db, user_id=user.id, key_id=first.info.id)
    db.commit()
    keys = list_api_keys(db, user_id=user.id)
    assert [k.name for k in keys] == ["second", "first"]
    assert keys[1].revoked_at is not None and keys[0].revoked_at is None
    assert keys[0].prefix == second.info.prefix
    assert not hasattr(keys[0], "key_hash")


def test_revoke_only_the_owners_active_key(db):
    user, other = add_user(db), add_user(db)
    new = add_key(db, user)
    with pytest.raises(ApiKeyError):
        revoke_api_key(db, user_id=other.id, key_id=new.info.id)
    revoke_api_key(db, user_id=user.id, key_id=new.info.id)
    with pytest.raises(ApiKeyError):
        revoke_api_key(db, user_id=user.id, key_id=new.info.id)


def test_rotate_revokes_the_old_key_and_keeps_name_and_limit(db):
    user = add_user(db)
    old = add_key(db, user, limit=7, name="deploy")
    new = rotate_api_key(db, user_id=user.id, key_id=old.info.id)
    db.commit()
    assert (new.info.name, new.info.rate_limit_per_minute) == ("deploy", 7)
    assert new.info.prefix != old.info.prefix
    assert verify_api_key(db, old.plaintext) is None
    assert verify_api_key(db, new.plaintext) is not None
    with pytest.raises(ApiKeyError):  # a rotated-away key cannot be rotated again
        rotate_api_key(db, user_id=user.id, key_id=old.info.id)


def test_rotate_is_all_or_nothing(db, monkeypatch):
    user = add_user(db)
    old = add_key(db, user)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("heho_app.services.api_keys._generate", broken)
    with pytest.raises(RuntimeError):
        rotate_api_key(db, user_id=user.id, key_id=old.info.id)
    db.rollback()
    assert verify_api_key(db, old.plaintext) is not None


def test_touch_records_use_at_most_every_thirty_seconds(db):
    new = add_key(db, add_user(db))
    now = utcnow()
    touch_api_keys(db, {new.info.id}, at=now)
    touch_api_keys(db, {new.info.id}, at=now + timedelta(seconds=10))
    db.commit()
    row = db.get(ApiKey, new.info.id)
    db.refresh(row)
    assert row.last_used_at == now
    touch_api_keys(db, {new.info.id}, at=now + timedelta(seconds=31))
    db.commit()
    db.refresh(row)
    assert row.last_used_at == now + timedelta(seconds=31)

"""The adversarial suite's tally: every attack is counted, and whether it got through.

Each attack records itself with `attacks.record(category, got_through=...)` before its
assertions run, so a run that finds a hole still counts it. At the end of the session
the tally is written to `test-artifacts/adversarial-results.json`, from which
`python -m tests.adversarial.report` refreshes the table in SECURITY.md.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from heho_app.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "test-artifacts" / "adversarial-results.json"


class AttackTally:
    """Attempts and breaches per category, merged into the results file at the end."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}

    def record(self, category: str, *, got_through: bool, attempts: int = 1) -> None:
        entry = self.counts.setdefault(category, {"attempts": 0, "got_through": 0})
        entry["attempts"] += attempts
        entry["got_through"] += int(got_through)

    def write(self, path: Path) -> None:
        """Replace the categories this run exercised; keep the others from earlier runs."""
        path.parent.mkdir(exist_ok=True)
        earlier = json.loads(path.read_text()) if path.exists() else {}
        earlier.update(self.counts)
        path.write_text(json.dumps(dict(sorted(earlier.items())), indent=2) + "\n")


@pytest.fixture(scope="session")
def attacks() -> Iterator[AttackTally]:
    tally = AttackTally()
    yield tally
    if tally.counts:
        tally.write(RESULTS)


def known_secrets(stack) -> dict[str, str]:
    """Every key a leak would matter for: none may ever reach the model."""
    from tests.conftest import TEST_ENCRYPTION_KEY
    from tests.fixtures.chat import OPENROUTER_TEST_KEY

    return {
        "OpenRouter key": OPENROUTER_TEST_KEY,
        "Supabase service key": stack.service_key,
        "Supabase anon key": stack.anon_key,
        "Supabase JWT secret": stack.jwt_secret,
        "HEHO_SECRET_KEY": os.environ["HEHO_SECRET_KEY"],
        "encryption key": TEST_ENCRYPTION_KEY,
        "HEHO_ENCRYPTION_KEYS": os.environ["HEHO_ENCRYPTION_KEYS"],
    }


@pytest.fixture(autouse=True)
def no_key_reaches_the_model(request, attacks: AttackTally) -> Iterator[None]:
    """After every test that talked to the local OpenRouter: no key in anything it got."""
    yield
    if "fake_openrouter" not in request.fixturenames:
        return
    server = request.getfixturevalue("fake_openrouter_server")
    stack = request.getfixturevalue("local_supabase")
    received = json.dumps(server.requests())
    leaked = [name for name, value in known_secrets(stack).items() if value in received]
    attacks.record(
        "keys in model requests", got_through=bool(leaked), attempts=len(server.requests())
    )
    assert not leaked, f"reached the model: {leaked}"

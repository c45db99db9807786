"""The adversarial suite's tally: every attack is counted, and whether it got through.

Each attack records itself with `attacks.record(category, got_through=...)` before its
assertions run, so a run that finds a hole still counts it. At the end of the session
the tally is written to `test-artifacts/adversarial-results.json`, from which
`python -m tests.adversarial.report` refreshes the table in SECURITY.md.
"""

import json
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

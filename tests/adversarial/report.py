"""Refresh the table of adversarial tests in SECURITY.md from a real run.

scripts/test tests/adversarial          # writes test-artifacts/adversarial-results.json
.venv/bin/python -m tests.adversarial.report
"""

import json
import sys

from heho_app.settings import PROJECT_ROOT
from tests.adversarial.conftest import RESULTS

SECURITY_MD = PROJECT_ROOT / "SECURITY.md"
START = "<!-- adversarial-results:start -->"
END = "<!-- adversarial-results:end -->"
MODEL = "tests/adversarial/test_hostile_model.py"
REQUESTS = "tests/adversarial/test_hostile_requests.py"
PROPERTIES = "tests/adversarial/test_properties.py"

# category: (who attacks, what the attempts are, where)
CATEGORIES: dict[str, tuple[str, str, str]] = {
    "ungranted table": (
        "model",
        "read a table it was not granted: `Orders`, `public.orders`, whitespace, "
        "`orders?select=*`, `orders,customers`, `auth.users`, HeHo's own tables, "
        "embedding (`*,orders(*)`)",
        MODEL,
    ),
    "write without grant": (
        "model",
        "insert, update or delete without the grant, also on HeHo's tables granted by mistake",
        MODEL,
    ),
    "empty or always-true filter": (
        "model",
        "update/delete with no filter, `[]`, a string, `{}`, or `id > 0`, `id <> -1`, "
        "`status like %` (refused by the row cap)",
        MODEL,
    ),
    "row caps and limits": (
        "model",
        "insert/update/delete more rows than the cap, `limit` beyond 1,000 or not a number, "
        "21 filters, `in` with 1,001 values",
        MODEL,
    ),
    "operators in values": (
        "model",
        "`or(id.gt.0)`, `id.gt.0`, `*`, `a,b`, `1);drop table x;--`, `not.is.null`, `%` as "
        "values (they match literally: 0 rows); typed columns, lists, objects, bad ops "
        "(refused)",
        MODEL,
    ),
    "operators in column names": (
        "model",
        "`id;drop`, `select`, `*`, `a,b`, `or`, `name->>0`, `name::text`, `orders(*)`, "
        "`limit`, `order`… as value keys and filter columns",
        MODEL,
    ),
    "unknown tools and malformed arguments": (
        "model",
        "`execute_sql`, `approve`, `decide_action`, `SELECT_ROWS`, a 5,000-character name; "
        "invalid JSON, `NaN`, nesting 100,000 deep, wrong types, 1 MB strings",
        MODEL,
    ),
    "self-approval": (
        "model",
        "approve its own held write: tools named `approve`/`decide_action`, an update of "
        "`heho_messages`, the text APPROVED, repeating the call",
        MODEL,
    ),
    "endless tool loop": (
        "model",
        "25 refused calls per answer, 40 answers in a row (counted: the calls HeHo ran "
        "before it ended the turn)",
        MODEL,
    ),
    "instructions in the user's rows": (
        "data",
        "rows that order the model to drop tables, approve writes, read HeHo's tables or "
        "print keys; the scripted model obeys, also from a poisoned memory",
        "tests/adversarial/test_hostile_data.py",
    ),
    "keys in model requests": (
        "data",
        "every request the local OpenRouter received in these tests, searched for 7 "
        "secrets (OpenRouter key, Supabase service and anon keys and JWT secret, "
        "HEHO_SECRET_KEY, the encryption key)",
        "tests/adversarial/conftest.py",
    ),
    "random tool calls: read only": (
        "model",
        "hypothesis: random tools, tables, columns, ops, values and shapes; read on one "
        "table: the whole database must stay unchanged",
        PROPERTIES,
    ),
    "random tool calls: insert only": (
        "model",
        "hypothesis, insert on `orders` only: nothing else may change",
        PROPERTIES,
    ),
    "random tool calls: update and delete, cap 5": (
        "model",
        "hypothesis, update and delete on `orders` with a cap of 5: nothing else may change, "
        "never more than 5 rows",
        PROPERTIES,
    ),
    "invalid API requests (schemathesis)": (
        "API client",
        "schemathesis' negative mode on every operation: must be a 4xx in the spec's shape "
        "and change nothing",
        "tests/adversarial/test_api_fuzz.py",
    ),
    "oversized bodies": (
        "API client",
        "`/auth/login` and `/auth/logout` with a 500 MB, a chunked (no length) and a 17 KB body",
        REQUESTS,
    ),
    "login flood": (
        "anyone",
        "40 concurrent wrong passwords for one account over HTTP, then the right one; "
        "48 attempts released at once on the limiter itself",
        REQUESTS,
    ),
    "another user's API key": (
        "another user",
        "read, change and delete another user's chatbot, list it, read its audit events",
        REQUESTS,
    ),
    "another user's session cookie": (
        "another user",
        "signed in as B in Chromium: open A's chat page and send a message there",
        "tests/adversarial/test_cross_user_browser.py",
    ),
}


def table(results: dict[str, dict[str, int]]) -> str:
    lines = [
        "| attack | by | attempts | got through | test |",
        "|---|---|---:|---:|---|",
    ]
    for category in [*CATEGORIES, *sorted(set(results) - set(CATEGORIES))]:
        if category not in results:
            continue
        who, what, where = CATEGORIES.get(category, ("", "", ""))
        counts = results[category]
        lines.append(
            f"| **{category}**: {what} | {who} | {counts['attempts']} | "
            f"{counts['got_through']} | `{where}` |"
        )
    total = sum(c["attempts"] for c in results.values())
    through = sum(c["got_through"] for c in results.values())
    lines.append(f"| **total** | | **{total}** | **{through}** | |")
    return "\n".join(lines)


def main() -> int:
    if not RESULTS.exists():
        print(f"{RESULTS} is missing: run `scripts/test tests/adversarial` first", file=sys.stderr)
        return 1
    text = SECURITY_MD.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    rendered = table(json.loads(RESULTS.read_text()))
    SECURITY_MD.write_text(f"{before}{START}\n{rendered}\n{END}{after}")
    print(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

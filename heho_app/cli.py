"""The `heho` console command: operator tasks that run beside the app."""

import argparse
import sys

from sqlmodel import Session

from heho_app.db import get_engine, run_migrations
from heho_app.devtools import fake_openrouter
from heho_app.devtools.supabase_stack import add_dev_supabase_parser
from heho_app.services.audit import add_audit_parser, reseal_under_primary_key
from heho_app.services.credentials import get_keyring, rotate_credentials
from heho_app.services.crypto import CryptoError, generate_key_spec


def _keys_rotate(args: argparse.Namespace) -> int:
    run_migrations()
    keyring = get_keyring()
    engine = get_engine()
    try:
        report = rotate_credentials(
            lambda: Session(engine),
            keyring=keyring,
            batch_size=args.batch_size,
            max_batches=args.max_batches,
        )
    except CryptoError as error:
        print(f"rotation stopped: {error}", file=sys.stderr)
        return 1
    print(f"moved {report.moved} credentials to key id '{keyring.primary_id}'")
    if report.remaining_by_key_id:
        for key_id, count in sorted(report.remaining_by_key_id.items()):
            print(f"remaining on key id '{key_id}': {count}")
        return 0  # the audit chains are sealed again once every credential has moved
    print("remaining on old key ids: 0")
    sealed = reseal_under_primary_key(keyring, engine=engine)
    print(f"sealed {sealed.resealed} audit events under key id '{keyring.primary_id}'")
    for user_id in sealed.broken_users:
        print(
            f"audit chain of user {user_id} does not verify: left as it is (see heho audit verify)",
            file=sys.stderr,
        )
    return 0


def _keys_generate(args: argparse.Namespace) -> int:
    print(generate_key_spec(args.key_id))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heho", description="HeHo operator commands")
    commands = parser.add_subparsers(dest="command", required=True)

    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = keys.add_parser(
        "rotate",
        help="re-encrypt stored credentials and re-seal the audit chains under the first "
        "key of HEHO_ENCRYPTION_KEYS",
    )
    rotate.add_argument("--batch-size", type=int, default=200)
    rotate.add_argument(
        "--max-batches", type=int, default=None, help="stop after this many batches"
    )
    rotate.set_defaults(handler=_keys_rotate)
    generate = keys.add_parser("generate", help="print a new keyring entry")
    generate.add_argument("key_id")
    generate.set_defaults(handler=_keys_generate)

    dev_llm = commands.add_parser(
        "dev-llm",
        help="run a local OpenRouter stand-in for demos and tests",
        description="Serve OpenRouter's chat, model and key endpoints with scripted and "
        "demo answers. Point OPENROUTER_BASE_URL at the URL it prints.",
    )
    fake_openrouter.add_arguments(dev_llm)
    dev_llm.set_defaults(handler=fake_openrouter.run_dev_llm)
    add_dev_supabase_parser(commands)
    add_audit_parser(commands)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

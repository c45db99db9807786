"""The `heho` console command."""

import argparse
import sys

from heho_app.devtools.supabase_stack import add_dev_supabase_parser
from heho_app.services.audit import add_audit_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="heho", description="HeHo command line")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_dev_supabase_parser(subparsers)
    add_audit_parser(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

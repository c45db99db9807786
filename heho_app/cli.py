"""The `heho` command."""

import argparse
from collections.abc import Sequence

from heho_app.devtools import fake_openrouter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heho", description="HeHo command line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    dev_llm = commands.add_parser(
        "dev-llm",
        help="run a local OpenRouter stand-in for demos and tests",
        description="Serve OpenRouter's chat, model and key endpoints with scripted and "
        "demo answers. Point OPENROUTER_BASE_URL at the URL it prints.",
    )
    fake_openrouter.add_arguments(dev_llm)
    dev_llm.set_defaults(handler=fake_openrouter.run_dev_llm)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)

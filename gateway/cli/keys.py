"""``gateway keys``: generate a data key; re-seal stored data under the active key."""

from __future__ import annotations

import argparse
from typing import Any

from gateway.cli.runner import database
from gateway.core.settings import Settings
from gateway.store.crypto import cipher_for, generate_key
from gateway.store.rotation import rotate


def add_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="personal-data encryption keys")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    sub.add_parser("generate", help="print a new random key (base64)").set_defaults(run=generate)
    sub.add_parser(
        "rotate", help="re-seal stored data under GATEWAY_DATA_KEY (old keys in _OLD)"
    ).set_defaults(run=rotate_keys)


async def generate(_settings: Settings, _args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


async def rotate_keys(settings: Settings, _args: argparse.Namespace) -> int:
    cipher = cipher_for(settings)
    async with database(settings) as pool:
        report = await rotate(pool, cipher)
    print(f"re-sealed {report.subjects} subject(s) and {report.results} result(s)")
    return 0

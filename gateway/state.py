"""Typed keys for what the application holds (aiohttp's ``web.AppKey``)."""

from __future__ import annotations

import aiohttp
import asyncpg
from aiohttp import web

from connectors.base import Connector
from gateway.crypto import DataCipher
from gateway.dispatcher import Dispatcher
from gateway.metrics import Metrics
from gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CIPHER = web.AppKey("cipher", DataCipher)
METRICS = web.AppKey("metrics", Metrics)
POOL = web.AppKey("pool", asyncpg.Pool)
SESSION = web.AppKey("session", aiohttp.ClientSession)
CONNECTORS = web.AppKey("connectors", dict[str, Connector])
DISPATCHER = web.AppKey("dispatcher", Dispatcher)

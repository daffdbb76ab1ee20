"""Typed keys for what the application holds (aiohttp's ``web.AppKey``)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from connectors.base import Connector
from gateway.accountability.admission import AdmissionPolicy
from gateway.accountability.control_records import ControlPolicy
from gateway.accountability.figures import ClusterFigures
from gateway.core.metrics import Metrics
from gateway.core.offload import Offload
from gateway.core.settings import Settings
from gateway.store.crypto import DataCipher
from gateway.store.db import Pool
from gateway.store.leader import Leadership
from gateway.worker.control_sender import ControlSender
from gateway.worker.dispatcher import Dispatcher

SETTINGS = web.AppKey("settings", Settings)
CIPHER = web.AppKey("cipher", DataCipher)
METRICS = web.AppKey("metrics", Metrics)
POLICY = web.AppKey("policy", AdmissionPolicy)
#: the helper process a large list's checking and sealing is shared with
OFFLOAD = web.AppKey("offload", Offload)
POOL = web.AppKey("pool", Pool)
SESSION = web.AppKey("session", aiohttp.ClientSession)
CONNECTORS = web.AppKey("connectors", dict[str, Connector])
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
CONTROLS = web.AppKey("controls", ControlPolicy)
CONTROL_SENDER = web.AppKey("control_sender", ControlSender)
LEADERSHIP = web.AppKey("leadership", Leadership)
FIGURES = web.AppKey("figures", ClusterFigures)
#: set on SIGTERM: readiness fails while the replica drains (``gateway serve``)
DRAINING = web.AppKey("draining", asyncio.Event)

"""Every route of the API, in one place: method, path, handler."""

from __future__ import annotations

from aiohttp import web

from gateway.http import admin, agencies, audit, batches, command, controls, exports, ops, uploads
from gateway.http.roles import Handler
from gateway.http.web import controls as control_pages
from gateway.http.web import dashboard, officer, signin, static

ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", "/v1/batches", batches.submit_batch),
    ("GET", "/v1/batches", batches.list_batches),
    ("POST", "/v1/batches/upload", uploads.upload_batch),
    ("GET", "/v1/batches/{batch_id}", batches.get_batch),
    ("GET", "/v1/batches/{batch_id}/results", batches.batch_results),
    ("GET", "/v1/batches/{batch_id}/results.xlsx", exports.results_spreadsheet),
    ("POST", "/v1/batches/{batch_id}/cancel", batches.cancel_batch),
    ("POST", "/v1/batches/{batch_id}/rerun", batches.rerun_overdue),
    ("POST", "/v1/batches/{batch_id}/approve", command.approve_batch),
    ("POST", "/v1/batches/{batch_id}/reject", command.reject_batch),
    ("GET", "/v1/agencies", agencies.list_agencies),
    ("GET", "/v1/alerts", command.list_alerts),
    ("GET", "/v1/stats", command.statistics),
    ("POST", "/v1/teams", admin.create_team),
    ("GET", "/v1/teams", admin.list_teams),
    ("POST", "/v1/officers", admin.create_officer),
    ("GET", "/v1/officers", admin.list_officers),
    ("POST", "/v1/officers/{name}/tokens", admin.issue_token),
    ("GET", "/v1/officers/{name}/tokens", admin.list_officer_tokens),
    ("DELETE", "/v1/officers/{name}/tokens", admin.revoke_officer_tokens),
    ("DELETE", "/v1/tokens/{token_id}", admin.revoke_token),
    ("POST", "/v1/cases", admin.register_case),
    ("POST", "/v1/cases/import", admin.import_cases),
    ("GET", "/v1/cases", admin.list_cases),
    ("POST", "/v1/cases/{case_number}/closure", controls.close_case),
    ("POST", "/v1/cases/{case_number}/reopen", controls.reopen_case),
    ("GET", "/v1/cases/{case_number}/history", controls.case_history),
    ("POST", "/v1/controls", controls.request_control),
    ("GET", "/v1/controls", controls.list_controls),
    ("GET", "/v1/controls/{control_id}", controls.get_control),
    ("POST", "/v1/controls/{control_id}/approve", controls.approve_control),
    ("POST", "/v1/controls/{control_id}/reject", controls.reject_control),
    ("POST", "/v1/controls/{control_id}/renew", controls.renew_control),
    ("POST", "/v1/controls/{control_id}/release", controls.release_control),
    ("GET", "/v1/audit", audit.list_audit),
    ("GET", "/v1/audit/head", audit.audit_head),
    ("GET", "/v1/audit/verify", audit.audit_verify),
    ("GET", "/healthz", ops.healthz),
    ("GET", "/readyz", ops.readyz),
    ("GET", "/metrics", ops.metrics),
    ("GET", "/openapi.json", ops.openapi),
    # the web pages (session sign-in; not operations of the API)
    ("GET", "/", signin.home),
    ("GET", "/login", signin.sign_in_form),
    ("POST", "/login", signin.sign_in),
    ("POST", "/logout", signin.sign_out),
    ("GET", "/dashboard", dashboard.dashboard),
    ("GET", "/dashboard/events", dashboard.events),
    ("POST", "/dashboard/batches/{batch_id}/approve", dashboard.approve),
    ("POST", "/dashboard/batches/{batch_id}/reject", dashboard.reject),
    ("GET", "/batches", officer.batches_page),
    ("POST", "/batches/upload", officer.upload),
    ("GET", "/batches/{batch_id}", officer.batch_page),
    ("GET", "/batches/{batch_id}/progress", officer.progress),
    ("POST", "/batches/{batch_id}/cancel", officer.cancel),
    ("POST", "/batches/{batch_id}/rerun", officer.rerun),
    ("GET", "/batches/{batch_id}/results.xlsx", officer.download),
    ("POST", "/batches/{batch_id}/controls", control_pages.ask_control),
    ("GET", "/controls", control_pages.controls_page),
    ("POST", "/controls/{control_id}/renew", control_pages.renew),
    ("POST", "/controls/{control_id}/release", control_pages.release),
    ("POST", "/cases/closure", control_pages.close_case),
    ("GET", "/cases/{case_number}", control_pages.case_page),
    ("POST", "/cases/{case_number}/reopen", control_pages.reopen_case),
    ("POST", "/dashboard/controls/{control_id}/approve", control_pages.approve),
    ("POST", "/dashboard/controls/{control_id}/reject", control_pages.reject),
    ("GET", "/static/{path:.+}", static.static_file),
)


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)

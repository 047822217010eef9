"""The admin, capability, approval, audit and token routes, written once for both clients.

Each method is one API call through the client's ``request`` (same auth, retries, typed
errors): on :class:`~airlock.Airlock` it returns the decoded answer, on
:class:`~airlock.AsyncAirlock` an awaitable of it. Bodies are the API's own JSON (camelCase),
as in the OpenAPI document at ``/openapi.json``. Routes that change something send one
``Idempotency-Key`` per call, reused on every retry (except the few the API takes without one:
``POST /v1/tokens``, ``DELETE /v1/tokens/{jti}``, ``POST /v1/admin/policies/validate``).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Protocol

from ._base import Params, enc


class _Caller(Protocol):
    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: Optional[Params] = None,
        idempotent: bool = False,
        idempotency_key: Optional[str] = None,
    ) -> Any: ...

    def _request_text(self, path: str) -> Any: ...


class _Resource:
    def __init__(self, client: _Caller) -> None:
        self._c = client

    def _get(self, path: str, params: Optional[Params] = None) -> Any:
        return self._c.request("GET", path, params=params)

    def _change(self, method: str, path: str, body: Any = None, idempotency_key: Optional[str] = None) -> Any:
        return self._c.request(method, path, json=body, idempotent=True, idempotency_key=idempotency_key)


class Approvals(_Resource):
    """Approval requests: users with the approver or admin role, with their own unscoped key."""

    def list(self, *, status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> Any:
        """``GET /v1/approvals`` (``status`` default ``pending``), newest first."""
        return self._get("/v1/approvals", {"status": status, "limit": limit, "cursor": cursor})

    def get(self, approval_id: str) -> Any:
        return self._get(f"/v1/approvals/{enc(approval_id)}")

    def approve(self, approval_id: str, *, reason: Optional[str] = None, idempotency_key: Optional[str] = None) -> Any:
        return self._change("POST", f"/v1/approvals/{enc(approval_id)}/approve", _reason(reason), idempotency_key)

    def deny(self, approval_id: str, *, reason: Optional[str] = None, idempotency_key: Optional[str] = None) -> Any:
        return self._change("POST", f"/v1/approvals/{enc(approval_id)}/deny", _reason(reason), idempotency_key)


class Capabilities(_Resource):
    """The capabilities the caller may call from code."""

    def list(self) -> Any:
        return self._get("/v1/capabilities")

    def declarations(self) -> Any:
        """TypeScript declarations of ``caps.*`` for the caller's capabilities (text)."""
        return self._c._request_text("/v1/capabilities.d.ts")


class Audit(_Resource):
    """The tamper-evident audit log (admins and auditors); a task's trace is ``tasks.trace``."""

    def list(self, **params: Any) -> Any:
        """``GET /v1/audit`` with its query (``limit``, ``cursor``, ``action``, ``taskId``, …)."""
        return self._get("/v1/audit", params)

    def checkpoint(self) -> Any:
        return self._get("/v1/audit/checkpoint")

    def public_key(self) -> Any:
        return self._get("/v1/audit/public-key")

    def consistency(self, **params: Any) -> Any:
        return self._get("/v1/audit/consistency", params)

    def verify(self) -> Any:
        """Re-walks the tenant's log on the server."""
        return self._get("/v1/audit/verify")


class Tokens(_Resource):
    """Short-lived tokens minted from an API key."""

    def create(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        return self._c.request("POST", "/v1/tokens", json=dict(body or {}))

    def revoke(self, jti: str) -> Any:
        return self._c.request("DELETE", f"/v1/tokens/{enc(jti)}")


class _Principals(_Resource):
    def __init__(self, client: _Caller, kind: str) -> None:
        super().__init__(client)
        self._base = f"/v1/admin/{kind}"

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Any:
        return self._get(self._base, {"limit": limit, "cursor": cursor})

    def create(self, body: Mapping[str, Any], *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("POST", self._base, dict(body), idempotency_key)

    def get(self, principal_id: str) -> Any:
        return self._get(f"{self._base}/{enc(principal_id)}")

    def disable(self, principal_id: str, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("POST", f"{self._base}/{enc(principal_id)}/disable", None, idempotency_key)

    def list_keys(self, principal_id: str) -> Any:
        return self._get(f"{self._base}/{enc(principal_id)}/keys")

    def create_key(self, principal_id: str, body: Optional[Mapping[str, Any]] = None, *, idempotency_key: Optional[str] = None) -> Any:
        """A new API key; the answer shows its ``secret`` once."""
        return self._change("POST", f"{self._base}/{enc(principal_id)}/keys", dict(body or {}), idempotency_key)


class _Named(_Resource):
    """A collection of named admin objects: list, get, put (create or replace), delete."""

    def __init__(self, client: _Caller, base: str) -> None:
        super().__init__(client)
        self._base = base

    def list(self) -> Any:
        return self._get(self._base)

    def get(self, name: str) -> Any:
        return self._get(f"{self._base}/{enc(name)}")

    def put(self, name: str, body: Mapping[str, Any], *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("PUT", f"{self._base}/{enc(name)}", dict(body), idempotency_key)

    def delete(self, name: str, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("DELETE", f"{self._base}/{enc(name)}", None, idempotency_key)


class Policies(_Resource):
    def get(self) -> Any:
        return self._get("/v1/admin/policies")

    def validate(self, text: str) -> Any:
        return self._c.request("POST", "/v1/admin/policies/validate", json={"text": text})

    def activate(self, text: str, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("PUT", "/v1/admin/policies/active", {"text": text}, idempotency_key)

    def deactivate(self, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("DELETE", "/v1/admin/policies/active", None, idempotency_key)

    def shadow(self, text: str, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("PUT", "/v1/admin/policies/shadow", {"text": text}, idempotency_key)

    def clear_shadow(self, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("DELETE", "/v1/admin/policies/shadow", None, idempotency_key)


class Limits(_Resource):
    def get(self) -> Any:
        return self._get("/v1/admin/limits")

    def put(self, body: Mapping[str, Any], *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("PUT", "/v1/admin/limits", dict(body), idempotency_key)


class Storage(_Resource):
    def get(self) -> Any:
        return self._get("/v1/admin/storage")

    def tenant(self, tenant_id: str) -> Any:
        return self._get(f"/v1/admin/storage/tenants/{enc(tenant_id)}")

    def set_tenant_quota(self, tenant_id: str, body: Mapping[str, Any], *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("PUT", f"/v1/admin/storage/tenants/{enc(tenant_id)}", dict(body), idempotency_key)


class Webhooks(_Resource):
    def get(self) -> Any:
        return self._get("/v1/admin/webhooks")

    def rotate_secret(self, *, idempotency_key: Optional[str] = None) -> Any:
        """Makes (or rotates) the tenant's signing secret; the answer shows it once."""
        return self._change("POST", "/v1/admin/webhooks/secret", None, idempotency_key)


class Tenants(_Resource):
    def create(self, body: Mapping[str, Any], *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("POST", "/v1/admin/tenants", dict(body), idempotency_key)


class Keys(_Resource):
    def revoke(self, key_id: str, *, idempotency_key: Optional[str] = None) -> Any:
        return self._change("DELETE", f"/v1/admin/keys/{enc(key_id)}", None, idempotency_key)


class Admin:
    """The admin API (admin role)."""

    def __init__(self, client: _Caller) -> None:
        self.tenants = Tenants(client)
        self.agents = _Principals(client, "agents")
        self.users = _Principals(client, "users")
        self.keys = Keys(client)
        self.capabilities = _Named(client, "/v1/admin/capabilities")
        self.credentials = _Named(client, "/v1/admin/credentials")
        self.grants = _Named(client, "/v1/admin/grants")
        self.policies = Policies(client)
        self.limits = Limits(client)
        self.storage = Storage(client)
        self.webhooks = Webhooks(client)


def _reason(reason: Optional[str]) -> Any:
    return {"reason": reason} if reason is not None else {}

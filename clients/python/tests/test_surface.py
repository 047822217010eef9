"""The admin, capability, approval, audit and token routes, sync and async, against a real
Airlock through the fault proxy (see conftest.py); and the retry rules the TypeScript SDK
shares: a 409 ``idempotency_request_in_flight`` is retried with the same key, a POST without
an Idempotency-Key whose answer was lost is not resent."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from typing import Any, Dict

import pytest

from airlock import (
    AirlockError,
    Airlock,
    AsyncAirlock,
    ConflictError,
    ConnectionError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
)

from conftest import FaultProxy

pytestmark = pytest.mark.live

REFUND_INPUT = {
    "type": "object",
    "properties": {"order": {"type": "string"}, "amount": {"type": "integer"}},
    "required": ["order", "amount"],
    "additionalProperties": False,
}


def permit(name: str) -> str:
    return (
        f'@id("py-sdk-{name}") permit (principal is Airlock::Agent, action == Airlock::Action::"capabilities.invoke", '
        f'resource == Airlock::Capability::"{name}");'
    )


def test_admin_agents_users_keys_and_settings(proxy: FaultProxy, admin_key: str) -> None:
    with Airlock(api_key=admin_key, base_url=proxy.url) as admin:
        agent = admin.admin.agents.create({"name": f"py agent {uuid.uuid4().hex[:8]}"})
        assert admin.admin.agents.get(agent["id"])["id"] == agent["id"]
        assert any(a["id"] == agent["id"] for a in admin.admin.agents.list(limit=100)["items"])
        key = admin.admin.agents.create_key(agent["id"])
        assert key["secret"]
        assert any(k["id"] == key["key"]["id"] for k in admin.admin.agents.list_keys(agent["id"])["items"])
        with Airlock(api_key=key["secret"], base_url=proxy.url) as theirs:
            assert isinstance(theirs.tasks.list()["items"], list)
            admin.admin.keys.revoke(key["key"]["id"])
            with pytest.raises(UnauthorizedError):
                theirs.tasks.list()
        second = admin.admin.agents.create_key(agent["id"])["secret"]
        admin.admin.agents.disable(agent["id"])
        with Airlock(api_key=second, base_url=proxy.url) as disabled:
            with pytest.raises(UnauthorizedError):
                disabled.tasks.list()

        user = admin.admin.users.create({"name": f"py user {uuid.uuid4().hex[:8]}", "roles": ["member"]})
        assert admin.admin.users.get(user["id"])["id"] == user["id"]
        admin.admin.users.create_key(user["id"])
        assert len(admin.admin.users.list_keys(user["id"])["items"]) == 1

        assert admin.admin.limits.get()
        assert admin.admin.storage.get()
        assert admin.admin.storage.tenant("acme")
        assert isinstance(admin.admin.grants.list()["items"], list)
        assert admin.admin.webhooks.rotate_secret()["secret"].startswith("whsec_")
        assert admin.admin.webhooks.get()["configured"] is True
        tenant_id = f"py-{uuid.uuid4().hex[:8]}"
        assert tenant_id in json.dumps(admin.admin.tenants.create({"id": tenant_id, "name": "Py", "admin": {"name": "them"}}))
        assert admin.admin.policies.validate(admin.admin.policies.get()["active"]["text"])["policyIds"]
        with pytest.raises(AirlockError) as invalid:
            admin.admin.policies.validate("permit (")
        assert invalid.value.code == "invalid_policy"
    with Airlock(base_url=proxy.url) as agent_client:
        with pytest.raises(ForbiddenError):
            agent_client.admin.agents.list()


def test_capabilities_and_an_approval_decided_through_the_sdk(proxy: FaultProxy, admin_key: str) -> None:
    prefix = f"pay{uuid.uuid4().hex[:6]}"
    name = f"{prefix}.refund"
    with Airlock(api_key=admin_key, base_url=proxy.url) as admin, Airlock(base_url=proxy.url) as agent:
        admin.admin.credentials.put("py-payments", {"type": "header", "header": "X-Api-Key", "value": os.environ["AIRLOCK_PAYMENTS_KEY"]})
        assert admin.admin.credentials.get("py-payments")["name"] == "py-payments"
        admin.admin.capabilities.put(name, {
            "description": "Refunds an order (cannot be undone)",
            "input": REFUND_INPUT,
            "risk": "irreversible",
            "implementation": {
                "type": "http", "method": "POST", "url": os.environ["AIRLOCK_PAYMENTS_URL"] + "/refunds/{input.order}",
                "body": {"amount": "{input.amount}"}, "credential": "py-payments",
            },
        })
        assert any(c["name"] == name for c in admin.admin.capabilities.list()["items"])
        before = admin.admin.policies.get()["active"]["text"]
        admin.admin.policies.activate(before + "\n" + permit(name))
        try:
            time.sleep(1.1)  # the broker's policy cache
            assert any(c["name"] == name for c in agent.capabilities.list()["items"])
            assert "refund" in agent.capabilities.declarations()

            approver_user = admin.admin.users.create({"name": f"approver {uuid.uuid4().hex[:8]}", "roles": ["approver"]})
            secret = admin.admin.users.create_key(approver_user["id"])["secret"]
            order = f"o-{uuid.uuid4()}"
            task = agent.tasks.create(
                "javascript", f'const r = await caps.{prefix}.refund({{ order: "{order}", amount: 4 }}); r',
                capabilities=[name], timeout_ms=60_000, wait=30,
            )
            assert task["status"] == "waiting_approval", task
            with pytest.raises(ForbiddenError):
                agent.approvals.list()
            with Airlock(api_key=secret, base_url=proxy.url) as approver:
                pending = [a for a in approver.approvals.list(status="pending", limit=100)["items"] if a["taskId"] == task["id"]]
                assert len(pending) == 1
                assert task["pendingApprovals"] == [{"id": pending[0]["id"], "capability": name, "deadline": pending[0]["deadline"]}]
                assert [a["id"] for a in agent.tasks.get(task["id"])["pendingApprovals"]] == [pending[0]["id"]]
                assert f"caps.{prefix}.refund" in approver.approvals.get(pending[0]["id"])["code"]
                assert approver.approvals.approve(pending[0]["id"], reason="fine")["status"] == "approved"
                with pytest.raises(ConflictError) as twice:
                    approver.approvals.deny(pending[0]["id"])
                assert twice.value.code == "approval_not_pending"
            for _ in agent.tasks.events(task["id"]):
                pass
            done = agent.tasks.get(task["id"])
            assert done["status"] == "succeeded", done
            assert done["result"]["value"]["order"] == order
            assert agent.tasks.trace(task["id"])["taskId"] == task["id"]
        finally:
            admin.admin.policies.activate(before)
            admin.admin.capabilities.delete(name)
            admin.admin.credentials.delete("py-payments")
        with pytest.raises(NotFoundError):
            admin.admin.capabilities.get(name)


def test_audit_and_tokens(proxy: FaultProxy, admin_key: str) -> None:
    with Airlock(api_key=admin_key, base_url=proxy.url) as admin, Airlock(base_url=proxy.url) as agent:
        assert isinstance(admin.audit.list(limit=5)["items"], list)
        assert isinstance(admin.audit.verify()["ok"], bool)
        with pytest.raises(ForbiddenError):
            agent.audit.verify()
        token = agent.tokens.create()["token"]
        with Airlock(api_key=token, base_url=proxy.url) as with_token:
            assert isinstance(with_token.tasks.list()["items"], list)
            payload: Dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
            agent.tokens.revoke(payload["jti"])
            with pytest.raises(UnauthorizedError):
                with_token.tasks.list()


def test_files_read_gives_the_bytes_a_container_task_wrote(proxy: FaultProxy) -> None:
    if os.environ.get("AIRLOCK_CONTAINERS") != "1":
        pytest.skip("no container runtime in this run (AIRLOCK_SKIP_DOCKER=1)")
    with Airlock(base_url=proxy.url) as airlock:
        task = airlock.run('open("/out/report.txt", "w").write("made by python")', runtime="python")
        assert task["status"] == "succeeded", task
        assert airlock.tasks.files.read(task["id"], "report.txt") == b"made by python"
        with pytest.raises(NotFoundError):
            airlock.tasks.files.read(task["id"], "nope.txt")


def test_a_409_in_flight_is_retried_with_the_same_key(proxy: FaultProxy) -> None:
    proxy.reset_keys()
    proxy.arm("409-in-flight", "/v1/tasks", "POST")
    with Airlock(base_url=proxy.url) as airlock:
        task = airlock.tasks.create("javascript", "2+2")
    keys = proxy.keys()
    assert len(keys) == 2 and keys[0] == keys[1]
    assert task["id"]
    proxy.arm("409-in-flight", "/v1/tasks", "POST")
    with Airlock(base_url=proxy.url, max_retries=0) as airlock:
        with pytest.raises(ConflictError) as conflict:
            airlock.tasks.create("javascript", "1")
    assert conflict.value.code == "idempotency_request_in_flight"


def test_a_lost_answer_to_a_post_without_a_key_is_not_resent(proxy: FaultProxy) -> None:
    def sent() -> int:
        return sum(1 for r in proxy.requests() if r == "POST /v1/tokens")

    before = sent()
    proxy.arm("drop-after-answer", "/v1/tokens", "POST")
    with Airlock(base_url=proxy.url) as airlock:
        with pytest.raises(ConnectionError):
            airlock.tokens.create()
    assert sent() - before == 1


def test_async_surface_parity(proxy: FaultProxy, admin_key: str) -> None:
    async def main() -> None:
        async with AsyncAirlock(api_key=admin_key, base_url=proxy.url) as admin, AsyncAirlock(base_url=proxy.url) as agent:
            made = await admin.admin.agents.create({"name": f"async agent {uuid.uuid4().hex[:8]}"})
            assert (await admin.admin.agents.get(made["id"]))["id"] == made["id"]
            assert (await admin.admin.agents.create_key(made["id"]))["secret"]
            assert isinstance((await admin.approvals.list())["items"], list)
            assert isinstance((await admin.audit.verify())["ok"], bool)
            assert isinstance((await agent.capabilities.list())["items"], list)
            assert isinstance(await agent.capabilities.declarations(), str)
            assert (await agent.tokens.create())["token"]
            with pytest.raises(ForbiddenError):
                await agent.approvals.list()
            with pytest.raises(NotFoundError):
                await admin.approvals.get(str(uuid.uuid4()))

    asyncio.run(main())

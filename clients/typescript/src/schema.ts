// Generated from openapi.json by scripts/sdk-generate.ts (npm run sdk:generate). Do not edit.
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getHealthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getReadyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/tenants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postAdminTenants"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminAgents"];
        put?: never;
        post: operations["postAdminAgents"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/agents/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminAgentsById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/agents/{id}/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminAgentsKeys"];
        put?: never;
        post: operations["postAdminAgentsKeys"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminUsers"];
        put?: never;
        post: operations["postAdminUsers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminUsersById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminUsersKeys"];
        put?: never;
        post: operations["postAdminUsersKeys"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/agents/{id}/disable": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postAdminAgentsDisable"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}/disable": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postAdminUsersDisable"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/keys/{keyId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete: operations["deleteAdminKeysById"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postTokens"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens/{jti}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete: operations["deleteTokensById"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks/{id}/trace": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getTasksTrace"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAudit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit/checkpoint": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAuditCheckpoint"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit/public-key": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAuditPublicKey"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit/consistency": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAuditConsistency"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/audit/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAuditVerify"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/grants/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminGrantsById"];
        put: operations["putAdminGrantsById"];
        post?: never;
        delete: operations["deleteAdminGrantsById"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/grants": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminGrants"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/limits": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminLimits"];
        put: operations["putAdminLimits"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/storage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminStorage"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/storage/tenants/{tenantId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminStorageTenantsById"];
        put: operations["putAdminStorageTenantsById"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/policies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminPolicies"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/policies/validate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postAdminPoliciesValidate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/policies/active": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put: operations["putAdminPoliciesActive"];
        post?: never;
        delete: operations["deleteAdminPoliciesActive"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/policies/shadow": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put: operations["putAdminPoliciesShadow"];
        post?: never;
        delete: operations["deleteAdminPoliciesShadow"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminWebhooks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhooks/secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postAdminWebhooksSecret"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/mcp": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** @description MCP over streamable HTTP (JSON-RPC 2.0, protocol revision 2025-11-25): tools run_code, get_task, cancel_task, list_capabilities, get_trace */
        post: operations["postMcp"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runtimes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getRuntimes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/credentials/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminCredentialsById"];
        put: operations["putAdminCredentialsById"];
        post?: never;
        delete: operations["deleteAdminCredentialsById"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/credentials": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminCredentials"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/capabilities/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminCapabilitiesById"];
        put: operations["putAdminCapabilitiesById"];
        post?: never;
        delete: operations["deleteAdminCapabilitiesById"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/capabilities": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getAdminCapabilities"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getApprovals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getApprovalsById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{id}/approve": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postApprovalsApprove"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/approvals/{id}/deny": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post: operations["postApprovalsDeny"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/capabilities": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getCapabilities"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/capabilities.d.ts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getCapabilitiesDTs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getTasks"];
        put?: never;
        post: operations["postTasks"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getTasksById"];
        put?: never;
        post?: never;
        delete: operations["deleteTasksById"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks/{id}/files/{*}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getTasksFilesById"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get: operations["getTasksEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        JsonValueInput: components["schemas"]["__shared"];
        __shared: {
            $defs: {
                schema0: string | number | boolean | null | components["schemas"]["__shared"][] | {
                    [key: string]: components["schemas"]["__shared"];
                };
            };
        };
        JsonValue: components["schemas"]["__shared"];
        /** @description RFC 9457 problem details; `code` is stable and documented in docs/errors.md */
        Problem: {
            type: string;
            title: string;
            status: number;
            detail?: string;
            instance?: string;
            code: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getHealthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getReadyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        status: "ready";
                        runners: number;
                        runtimes: {
                            [key: string]: boolean;
                        };
                        unavailable?: string[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminTenants: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    id: string;
                    name: string;
                    admin: {
                        name: string;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        tenant: {
                            id: string;
                            name: string;
                            createdAt: string;
                        };
                        admin: {
                            id: string;
                            name: string;
                            scopes?: string[];
                            disabled: boolean;
                            createdAt: string;
                            disabledAt?: string;
                            roles: ("admin" | "approver" | "member" | "auditor")[];
                        };
                        key: {
                            id: string;
                            /** @enum {string} */
                            ownerKind: "agent" | "user";
                            ownerId: string;
                            name?: string;
                            scopes?: string[];
                            createdAt: string;
                            revokedAt?: string;
                            prefix: string;
                        };
                        secret: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminAgents: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            name: string;
                            scopes?: string[];
                            disabled: boolean;
                            createdAt: string;
                            disabledAt?: string;
                        }[];
                        nextCursor: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminAgents: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    scopes?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        scopes?: string[];
                        disabled: boolean;
                        createdAt: string;
                        disabledAt?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminAgentsById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        scopes?: string[];
                        disabled: boolean;
                        createdAt: string;
                        disabledAt?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminAgentsKeys: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            /** @enum {string} */
                            ownerKind: "agent" | "user";
                            ownerId: string;
                            name?: string;
                            scopes?: string[];
                            createdAt: string;
                            revokedAt?: string;
                            prefix: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminAgentsKeys: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name?: string;
                    scopes?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        key: {
                            id: string;
                            /** @enum {string} */
                            ownerKind: "agent" | "user";
                            ownerId: string;
                            name?: string;
                            scopes?: string[];
                            createdAt: string;
                            revokedAt?: string;
                            prefix: string;
                        };
                        secret: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminUsers: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            name: string;
                            scopes?: string[];
                            disabled: boolean;
                            createdAt: string;
                            disabledAt?: string;
                            roles: ("admin" | "approver" | "member" | "auditor")[];
                        }[];
                        nextCursor: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminUsers: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    /**
                     * @default [
                     *       "member"
                     *     ]
                     */
                    roles?: ("admin" | "approver" | "member" | "auditor")[];
                    scopes?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        scopes?: string[];
                        disabled: boolean;
                        createdAt: string;
                        disabledAt?: string;
                        roles: ("admin" | "approver" | "member" | "auditor")[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminUsersById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        scopes?: string[];
                        disabled: boolean;
                        createdAt: string;
                        disabledAt?: string;
                        roles: ("admin" | "approver" | "member" | "auditor")[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminUsersKeys: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            /** @enum {string} */
                            ownerKind: "agent" | "user";
                            ownerId: string;
                            name?: string;
                            scopes?: string[];
                            createdAt: string;
                            revokedAt?: string;
                            prefix: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminUsersKeys: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name?: string;
                    scopes?: string[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        key: {
                            id: string;
                            /** @enum {string} */
                            ownerKind: "agent" | "user";
                            ownerId: string;
                            name?: string;
                            scopes?: string[];
                            createdAt: string;
                            revokedAt?: string;
                            prefix: string;
                        };
                        secret: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminAgentsDisable: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never> | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        agent: {
                            id: string;
                            name: string;
                            scopes?: string[];
                            disabled: boolean;
                            createdAt: string;
                            disabledAt?: string;
                        };
                        cancelledTasks: number;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminUsersDisable: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never> | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        scopes?: string[];
                        disabled: boolean;
                        createdAt: string;
                        disabledAt?: string;
                        roles: ("admin" | "approver" | "member" | "auditor")[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteAdminKeysById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                keyId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        /** @enum {string} */
                        ownerKind: "agent" | "user";
                        ownerId: string;
                        name?: string;
                        scopes?: string[];
                        createdAt: string;
                        revokedAt?: string;
                        prefix: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    scope?: string;
                    expiresInSeconds?: number;
                    subjectToken?: string;
                    mayAct?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        token: string;
                        /** @enum {string} */
                        tokenType: "task+jwt" | "user+jwt";
                        jti: string;
                        expiresAt: string;
                        expiresInSeconds: number;
                        scope: string;
                        actingFor?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteTokensById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                jti: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getTasksTrace: {
        parameters: {
            query?: {
                proofs?: "true" | "false";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskId: string;
                        sealedSize: number;
                        entries: {
                            /** Format: date-time */
                            time: string;
                            tenant?: string;
                            action: string;
                            /** @enum {string} */
                            outcome: "success" | "failure" | "denied";
                            agentId?: string;
                            userId?: string;
                            keyId?: string;
                            jti?: string;
                            taskId?: string;
                            promptSnippet?: string;
                            sessionId?: string;
                            requestId?: string;
                            traceId?: string;
                            decision?: {
                                allowed: boolean;
                                policyIds: string[];
                                policySetHash: string;
                                action: string;
                                resource?: string;
                                errors?: string[];
                                shadow?: {
                                    allowed: boolean;
                                    policyIds: string[];
                                    policySetHash: string;
                                };
                            };
                            details?: {
                                [key: string]: components["schemas"]["JsonValue"];
                            };
                            seq: number;
                            producer?: {
                                id: string;
                                counter: number;
                            };
                            prevHash: string;
                            hash: string;
                        }[];
                    } | {
                        /** @enum {string} */
                        format: "airlock-audit-trace/v1";
                        taskId: string;
                        origin: string;
                        checkpoint: string;
                        entries: string[];
                        proofs: {
                            seq: number;
                            treeSize: number;
                            hashes: string[];
                        }[];
                        pending?: number;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAudit: {
        parameters: {
            query?: {
                taskId?: string;
                agentId?: string;
                userId?: string;
                action?: string;
                outcome?: "success" | "failure" | "denied";
                since?: string;
                until?: string;
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            /** Format: date-time */
                            time: string;
                            tenant?: string;
                            action: string;
                            /** @enum {string} */
                            outcome: "success" | "failure" | "denied";
                            agentId?: string;
                            userId?: string;
                            keyId?: string;
                            jti?: string;
                            taskId?: string;
                            promptSnippet?: string;
                            sessionId?: string;
                            requestId?: string;
                            traceId?: string;
                            decision?: {
                                allowed: boolean;
                                policyIds: string[];
                                policySetHash: string;
                                action: string;
                                resource?: string;
                                errors?: string[];
                                shadow?: {
                                    allowed: boolean;
                                    policyIds: string[];
                                    policySetHash: string;
                                };
                            };
                            details?: {
                                [key: string]: components["schemas"]["JsonValue"];
                            };
                            seq: number;
                            producer?: {
                                id: string;
                                counter: number;
                            };
                            prevHash: string;
                            hash: string;
                        }[];
                        nextCursor: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAuditCheckpoint: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        origin: string;
                        size: number;
                        rootHash: string;
                        note: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAuditPublicKey: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @enum {string} */
                        algorithm: "Ed25519";
                        origin: string;
                        verifierKey: string;
                        publicKey: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAuditConsistency: {
        parameters: {
            query?: {
                from?: number;
                to?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        from: number;
                        to: number;
                        hashes: string[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAuditVerify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        ok: boolean;
                        entries: number;
                        checkpoints: number;
                        firstBroken?: {
                            seq: number;
                            reason: string;
                        };
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminGrantsById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        /** Format: starts_with */
                        hostPath: string;
                        /** @enum {string} */
                        mode: "ro" | "rw";
                        maxBytes: number;
                        allowedAgents: string[];
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminGrantsById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    hostPath: string;
                    /** @enum {string} */
                    mode: "ro" | "rw";
                    maxBytes: number;
                    allowedAgents: ("*" | string)[];
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        /** Format: starts_with */
                        hostPath: string;
                        /** @enum {string} */
                        mode: "ro" | "rw";
                        maxBytes: number;
                        allowedAgents: string[];
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        /** Format: starts_with */
                        hostPath: string;
                        /** @enum {string} */
                        mode: "ro" | "rw";
                        maxBytes: number;
                        allowedAgents: string[];
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteAdminGrantsById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminGrants: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            name: string;
                            /** Format: starts_with */
                            hostPath: string;
                            /** @enum {string} */
                            mode: "ro" | "rw";
                            maxBytes: number;
                            allowedAgents: string[];
                            createdAt: string;
                            updatedAt: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminLimits: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        defaults: {
                            readsPerMin: number;
                            writesPerMin: number;
                            taskCreatesPerMin: number;
                            concurrentTasks: number;
                        };
                        overrides: {
                            tenant?: {
                                readsPerMin?: number;
                                writesPerMin?: number;
                                taskCreatesPerMin?: number;
                                concurrentTasks?: number;
                            };
                            agents?: {
                                [key: string]: {
                                    readsPerMin?: number;
                                    writesPerMin?: number;
                                    taskCreatesPerMin?: number;
                                    concurrentTasks?: number;
                                };
                            };
                            keys?: {
                                [key: string]: {
                                    readsPerMin?: number;
                                    writesPerMin?: number;
                                    taskCreatesPerMin?: number;
                                    concurrentTasks?: number;
                                };
                            };
                        };
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminLimits: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    tenant?: {
                        readsPerMin?: number;
                        writesPerMin?: number;
                        taskCreatesPerMin?: number;
                        concurrentTasks?: number;
                    };
                    agents?: {
                        [key: string]: {
                            readsPerMin?: number;
                            writesPerMin?: number;
                            taskCreatesPerMin?: number;
                            concurrentTasks?: number;
                        };
                    };
                    keys?: {
                        [key: string]: {
                            readsPerMin?: number;
                            writesPerMin?: number;
                            taskCreatesPerMin?: number;
                            concurrentTasks?: number;
                        };
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        defaults: {
                            readsPerMin: number;
                            writesPerMin: number;
                            taskCreatesPerMin: number;
                            concurrentTasks: number;
                        };
                        overrides: {
                            tenant?: {
                                readsPerMin?: number;
                                writesPerMin?: number;
                                taskCreatesPerMin?: number;
                                concurrentTasks?: number;
                            };
                            agents?: {
                                [key: string]: {
                                    readsPerMin?: number;
                                    writesPerMin?: number;
                                    taskCreatesPerMin?: number;
                                    concurrentTasks?: number;
                                };
                            };
                            keys?: {
                                [key: string]: {
                                    readsPerMin?: number;
                                    writesPerMin?: number;
                                    taskCreatesPerMin?: number;
                                    concurrentTasks?: number;
                                };
                            };
                        };
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminStorage: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        tenantId: string;
                        quotaBytes: number | null;
                        retentionMs: number;
                        overrides: {
                            quotaBytes?: number;
                            retentionMs?: number;
                        };
                        defaults: {
                            quotaBytes: number | null;
                            retentionMs: number;
                        };
                        usage: {
                            redisBytes: number;
                            blobBytes: number;
                            totalBytes: number;
                            tasks: number;
                        };
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminStorageTenantsById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                tenantId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        tenantId: string;
                        quotaBytes: number | null;
                        retentionMs: number;
                        overrides: {
                            quotaBytes?: number;
                            retentionMs?: number;
                        };
                        defaults: {
                            quotaBytes: number | null;
                            retentionMs: number;
                        };
                        usage: {
                            redisBytes: number;
                            blobBytes: number;
                            totalBytes: number;
                            tasks: number;
                        };
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminStorageTenantsById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                tenantId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    quotaBytes?: number;
                    retentionMs?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        tenantId: string;
                        quotaBytes: number | null;
                        retentionMs: number;
                        overrides: {
                            quotaBytes?: number;
                            retentionMs?: number;
                        };
                        defaults: {
                            quotaBytes: number | null;
                            retentionMs: number;
                        };
                        usage: {
                            redisBytes: number;
                            blobBytes: number;
                            totalBytes: number;
                            tasks: number;
                        };
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminPolicies: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        active: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                            isDefault: boolean;
                        };
                        shadow: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                        } | null;
                        version: number;
                        changedAt?: string;
                        changedBy?: string;
                        schema: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminPoliciesValidate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    text: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        text: string;
                        hash: string;
                        policyIds: string[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminPoliciesActive: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    text: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        active: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                            isDefault: boolean;
                        };
                        shadow: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                        } | null;
                        version: number;
                        changedAt?: string;
                        changedBy?: string;
                        schema: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteAdminPoliciesActive: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        active: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                            isDefault: boolean;
                        };
                        shadow: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                        } | null;
                        version: number;
                        changedAt?: string;
                        changedBy?: string;
                        schema: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminPoliciesShadow: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    text: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        active: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                            isDefault: boolean;
                        };
                        shadow: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                        } | null;
                        version: number;
                        changedAt?: string;
                        changedBy?: string;
                        schema: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteAdminPoliciesShadow: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        active: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                            isDefault: boolean;
                        };
                        shadow: {
                            text: string;
                            hash: string;
                            policyIds: string[];
                        } | null;
                        version: number;
                        changedAt?: string;
                        changedBy?: string;
                        schema: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminWebhooks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        configured: boolean;
                        rotatedAt?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postAdminWebhooksSecret: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never> | null;
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        secret: string | null;
                        rotatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postMcp: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The request conflicts with the current state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getRuntimes: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runtimes: {
                            /** @enum {string} */
                            name: "javascript" | "typescript" | "python" | "node" | "bash";
                            language: string;
                            /** @enum {string} */
                            backend: "isolate" | "container";
                            available: boolean;
                            unavailableReason?: string;
                            allowed: boolean;
                            limits: {
                                timeoutMs: {
                                    default: number;
                                    max: number;
                                };
                                memoryMb: {
                                    default: number;
                                    max: number;
                                };
                                outputBytes: number;
                                codeBytes: number;
                                inputBytes: number;
                            };
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminCredentialsById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": ({
                        /** @enum {string} */
                        type: "bearer";
                    } | {
                        /** @enum {string} */
                        type: "basic";
                    } | {
                        /** @enum {string} */
                        type: "header";
                        header: string;
                    } | {
                        /** @enum {string} */
                        type: "query";
                        param: string;
                    }) & {
                        name: string;
                        keyId: string;
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminCredentialsById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    type: "bearer" | "basic" | "header" | "query";
                    value: string;
                    header?: string;
                    param?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": ({
                        /** @enum {string} */
                        type: "bearer";
                    } | {
                        /** @enum {string} */
                        type: "basic";
                    } | {
                        /** @enum {string} */
                        type: "header";
                        header: string;
                    } | {
                        /** @enum {string} */
                        type: "query";
                        param: string;
                    }) & {
                        name: string;
                        keyId: string;
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": ({
                        /** @enum {string} */
                        type: "bearer";
                    } | {
                        /** @enum {string} */
                        type: "basic";
                    } | {
                        /** @enum {string} */
                        type: "header";
                        header: string;
                    } | {
                        /** @enum {string} */
                        type: "query";
                        param: string;
                    }) & {
                        name: string;
                        keyId: string;
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteAdminCredentialsById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminCredentials: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: (({
                            /** @enum {string} */
                            type: "bearer";
                        } | {
                            /** @enum {string} */
                            type: "basic";
                        } | {
                            /** @enum {string} */
                            type: "header";
                            header: string;
                        } | {
                            /** @enum {string} */
                            type: "query";
                            param: string;
                        }) & {
                            name: string;
                            keyId: string;
                            createdAt: string;
                            updatedAt: string;
                        })[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminCapabilitiesById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        description: string;
                        input: {
                            [key: string]: components["schemas"]["JsonValue"];
                        };
                        output?: {
                            [key: string]: components["schemas"]["JsonValue"];
                        };
                        /** @enum {string} */
                        risk: "read" | "write" | "irreversible";
                        /** @default 10000 */
                        timeoutMs: number;
                        rateLimit?: {
                            perMinute: number;
                        };
                        compensation?: {
                            capability: string;
                            input?: components["schemas"]["JsonValue"];
                        };
                        implementation: {
                            /** @enum {string} */
                            type: "http";
                            /** @enum {string} */
                            method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
                            url: string;
                            headers?: {
                                [key: string]: string;
                            };
                            query?: {
                                [key: string]: string;
                            };
                            body?: "input" | components["schemas"]["JsonValue"];
                            credential?: string;
                            idempotencyHeader?: string | false;
                        } | {
                            /** @enum {string} */
                            type: "http.request";
                            allowedHosts: string[];
                            credential?: string;
                            idempotencyHeader?: string | false;
                        };
                        name: string;
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    putAdminCapabilitiesById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    description: string;
                    input?: {
                        [key: string]: components["schemas"]["JsonValueInput"];
                    };
                    output?: {
                        [key: string]: components["schemas"]["JsonValueInput"];
                    };
                    /** @enum {string} */
                    risk: "read" | "write" | "irreversible";
                    /** @default 10000 */
                    timeoutMs?: number;
                    rateLimit?: {
                        perMinute: number;
                    };
                    compensation?: {
                        capability: string;
                        input?: components["schemas"]["JsonValueInput"];
                    };
                    implementation: {
                        /** @enum {string} */
                        type: "http";
                        /** @enum {string} */
                        method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
                        url: string;
                        headers?: {
                            [key: string]: string;
                        };
                        query?: {
                            [key: string]: string;
                        };
                        body?: "input" | components["schemas"]["JsonValueInput"];
                        credential?: string;
                        idempotencyHeader?: string | false;
                    } | {
                        /** @enum {string} */
                        type: "http.request";
                        allowedHosts: string[];
                        credential?: string;
                        idempotencyHeader?: string | false;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        description: string;
                        input: {
                            [key: string]: components["schemas"]["JsonValue"];
                        };
                        output?: {
                            [key: string]: components["schemas"]["JsonValue"];
                        };
                        /** @enum {string} */
                        risk: "read" | "write" | "irreversible";
                        /** @default 10000 */
                        timeoutMs: number;
                        rateLimit?: {
                            perMinute: number;
                        };
                        compensation?: {
                            capability: string;
                            input?: components["schemas"]["JsonValue"];
                        };
                        implementation: {
                            /** @enum {string} */
                            type: "http";
                            /** @enum {string} */
                            method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
                            url: string;
                            headers?: {
                                [key: string]: string;
                            };
                            query?: {
                                [key: string]: string;
                            };
                            body?: "input" | components["schemas"]["JsonValue"];
                            credential?: string;
                            idempotencyHeader?: string | false;
                        } | {
                            /** @enum {string} */
                            type: "http.request";
                            allowedHosts: string[];
                            credential?: string;
                            idempotencyHeader?: string | false;
                        };
                        name: string;
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        description: string;
                        input: {
                            [key: string]: components["schemas"]["JsonValue"];
                        };
                        output?: {
                            [key: string]: components["schemas"]["JsonValue"];
                        };
                        /** @enum {string} */
                        risk: "read" | "write" | "irreversible";
                        /** @default 10000 */
                        timeoutMs: number;
                        rateLimit?: {
                            perMinute: number;
                        };
                        compensation?: {
                            capability: string;
                            input?: components["schemas"]["JsonValue"];
                        };
                        implementation: {
                            /** @enum {string} */
                            type: "http";
                            /** @enum {string} */
                            method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
                            url: string;
                            headers?: {
                                [key: string]: string;
                            };
                            query?: {
                                [key: string]: string;
                            };
                            body?: "input" | components["schemas"]["JsonValue"];
                            credential?: string;
                            idempotencyHeader?: string | false;
                        } | {
                            /** @enum {string} */
                            type: "http.request";
                            allowedHosts: string[];
                            credential?: string;
                            idempotencyHeader?: string | false;
                        };
                        name: string;
                        createdAt: string;
                        updatedAt: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteAdminCapabilitiesById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            204: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getAdminCapabilities: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            description: string;
                            input: {
                                [key: string]: components["schemas"]["JsonValue"];
                            };
                            output?: {
                                [key: string]: components["schemas"]["JsonValue"];
                            };
                            /** @enum {string} */
                            risk: "read" | "write" | "irreversible";
                            /** @default 10000 */
                            timeoutMs: number;
                            rateLimit?: {
                                perMinute: number;
                            };
                            compensation?: {
                                capability: string;
                                input?: components["schemas"]["JsonValue"];
                            };
                            implementation: {
                                /** @enum {string} */
                                type: "http";
                                /** @enum {string} */
                                method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
                                url: string;
                                headers?: {
                                    [key: string]: string;
                                };
                                query?: {
                                    [key: string]: string;
                                };
                                body?: "input" | components["schemas"]["JsonValue"];
                                credential?: string;
                                idempotencyHeader?: string | false;
                            } | {
                                /** @enum {string} */
                                type: "http.request";
                                allowedHosts: string[];
                                credential?: string;
                                idempotencyHeader?: string | false;
                            };
                            name: string;
                            createdAt: string;
                            updatedAt: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getApprovals: {
        parameters: {
            query?: {
                status?: "pending" | "approved" | "denied" | "expired" | "cancelled";
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            /** Format: uuid */
                            id: string;
                            tenantId: string;
                            /** Format: uuid */
                            taskId: string;
                            agentId: string;
                            /** @enum {string} */
                            principalKind: "agent" | "user";
                            actingFor?: string;
                            capability: string;
                            /** @enum {string} */
                            risk: "read" | "write" | "irreversible";
                            seq: number;
                            callKey: string;
                            input: unknown;
                            redacted?: string[];
                            inputSha256: string;
                            bindingSha256: string;
                            policyIds: string[];
                            promptSnippet?: string;
                            code?: string;
                            codeTruncated?: boolean;
                            taskUrl: string;
                            compensates?: {
                                seq: number;
                                capability: string;
                            };
                            createdAt: string;
                            deadline: string;
                            /** @enum {string} */
                            status: "pending" | "approved" | "denied" | "expired" | "cancelled";
                            decidedAt?: string;
                            decidedBy?: string;
                            reason?: string;
                        }[];
                        nextCursor: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getApprovalsById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: uuid */
                        id: string;
                        tenantId: string;
                        /** Format: uuid */
                        taskId: string;
                        agentId: string;
                        /** @enum {string} */
                        principalKind: "agent" | "user";
                        actingFor?: string;
                        capability: string;
                        /** @enum {string} */
                        risk: "read" | "write" | "irreversible";
                        seq: number;
                        callKey: string;
                        input: unknown;
                        redacted?: string[];
                        inputSha256: string;
                        bindingSha256: string;
                        policyIds: string[];
                        promptSnippet?: string;
                        code?: string;
                        codeTruncated?: boolean;
                        taskUrl: string;
                        compensates?: {
                            seq: number;
                            capability: string;
                        };
                        createdAt: string;
                        deadline: string;
                        /** @enum {string} */
                        status: "pending" | "approved" | "denied" | "expired" | "cancelled";
                        decidedAt?: string;
                        decidedBy?: string;
                        reason?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postApprovalsApprove: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    reason?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: uuid */
                        id: string;
                        tenantId: string;
                        /** Format: uuid */
                        taskId: string;
                        agentId: string;
                        /** @enum {string} */
                        principalKind: "agent" | "user";
                        actingFor?: string;
                        capability: string;
                        /** @enum {string} */
                        risk: "read" | "write" | "irreversible";
                        seq: number;
                        callKey: string;
                        input: unknown;
                        redacted?: string[];
                        inputSha256: string;
                        bindingSha256: string;
                        policyIds: string[];
                        promptSnippet?: string;
                        code?: string;
                        codeTruncated?: boolean;
                        taskUrl: string;
                        compensates?: {
                            seq: number;
                            capability: string;
                        };
                        createdAt: string;
                        deadline: string;
                        /** @enum {string} */
                        status: "pending" | "approved" | "denied" | "expired" | "cancelled";
                        decidedAt?: string;
                        decidedBy?: string;
                        reason?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postApprovalsDeny: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    reason?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: uuid */
                        id: string;
                        tenantId: string;
                        /** Format: uuid */
                        taskId: string;
                        agentId: string;
                        /** @enum {string} */
                        principalKind: "agent" | "user";
                        actingFor?: string;
                        capability: string;
                        /** @enum {string} */
                        risk: "read" | "write" | "irreversible";
                        seq: number;
                        callKey: string;
                        input: unknown;
                        redacted?: string[];
                        inputSha256: string;
                        bindingSha256: string;
                        policyIds: string[];
                        promptSnippet?: string;
                        code?: string;
                        codeTruncated?: boolean;
                        taskUrl: string;
                        compensates?: {
                            seq: number;
                            capability: string;
                        };
                        createdAt: string;
                        deadline: string;
                        /** @enum {string} */
                        status: "pending" | "approved" | "denied" | "expired" | "cancelled";
                        decidedAt?: string;
                        decidedBy?: string;
                        reason?: string;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getCapabilities: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            name: string;
                            description: string;
                            risk: string;
                            timeoutMs: number;
                            input: {
                                [key: string]: components["schemas"]["JsonValue"];
                            };
                            output?: {
                                [key: string]: components["schemas"]["JsonValue"];
                            };
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getCapabilitiesDTs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getTasks: {
        parameters: {
            query?: {
                status?: "queued" | "running" | "waiting_approval" | "succeeded" | "failed" | "timed_out" | "cancelled";
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            /** @enum {string} */
                            status: "queued" | "running" | "waiting_approval" | "succeeded" | "failed" | "timed_out" | "cancelled";
                            /** @enum {string} */
                            runtime: "javascript" | "typescript" | "python" | "node" | "bash";
                            createdAt: string;
                            startedAt?: string;
                            finishedAt?: string;
                            limits: {
                                timeoutMs: number;
                                cpuMs: number;
                                memoryMb: number;
                                outputBytes: number;
                            };
                            metadata: {
                                userId?: string;
                                promptSnippet?: string;
                                sessionId?: string;
                            };
                            result?: {
                                value: unknown;
                                stdout: string;
                                stderr: string;
                                /** @enum {string} */
                                stdoutEncoding?: "base64";
                                /** @enum {string} */
                                stderrEncoding?: "base64";
                                stdoutTruncated: boolean;
                                stderrTruncated: boolean;
                                exitCode?: number | null;
                                files?: {
                                    path: string;
                                    size: number;
                                    sha256: string;
                                }[];
                                changes?: {
                                    grant: string;
                                    path: string;
                                    /** @enum {string} */
                                    change: "created" | "modified" | "deleted";
                                    size?: number;
                                    sha256?: string;
                                }[];
                            };
                            error?: {
                                /** @enum {string} */
                                code: "timeout" | "memory_limit" | "output_limit" | "syntax_error" | "runtime_error" | "cancelled" | "nonzero_exit" | "pids_limit" | "disk_limit" | "capability_uncertain" | "internal";
                                message: string;
                            };
                            usage?: {
                                wallMs: number;
                                cpuMs: number;
                                peakMemoryBytes?: number;
                            };
                            callbackUrl?: string;
                            compensations?: {
                                call: number;
                                of: string;
                                capability: string;
                                /** @enum {string} */
                                status: "pending" | "done" | "failed";
                                attempts: number;
                                error?: {
                                    code: string;
                                    message: string;
                                };
                                finishedAt?: string;
                            }[];
                        }[];
                        nextCursor: string | null;
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    postTasks: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    runtime: "javascript" | "typescript" | "python" | "node" | "bash";
                    code: string;
                    timeoutMs?: number;
                    memoryMb?: number;
                    wait?: number;
                    metadata?: {
                        userId?: string;
                        promptSnippet?: string;
                        sessionId?: string;
                    };
                    stdin?: string;
                    /** Format: byte */
                    stdinBase64?: string;
                    files?: {
                        path: string;
                        /** Format: byte */
                        contentBase64: string;
                    }[];
                    args?: string[];
                    mounts?: {
                        grant: string;
                        path: string;
                        /** @enum {string} */
                        mode: "ro" | "rw";
                    }[];
                    capabilities?: string[];
                    /** Format: uri */
                    callbackUrl?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        /** @enum {string} */
                        status: "queued" | "running" | "waiting_approval" | "succeeded" | "failed" | "timed_out" | "cancelled";
                        /** @enum {string} */
                        runtime: "javascript" | "typescript" | "python" | "node" | "bash";
                        createdAt: string;
                        startedAt?: string;
                        finishedAt?: string;
                        limits: {
                            timeoutMs: number;
                            cpuMs: number;
                            memoryMb: number;
                            outputBytes: number;
                        };
                        metadata: {
                            userId?: string;
                            promptSnippet?: string;
                            sessionId?: string;
                        };
                        result?: {
                            value: unknown;
                            stdout: string;
                            stderr: string;
                            /** @enum {string} */
                            stdoutEncoding?: "base64";
                            /** @enum {string} */
                            stderrEncoding?: "base64";
                            stdoutTruncated: boolean;
                            stderrTruncated: boolean;
                            exitCode?: number | null;
                            files?: {
                                path: string;
                                size: number;
                                sha256: string;
                            }[];
                            changes?: {
                                grant: string;
                                path: string;
                                /** @enum {string} */
                                change: "created" | "modified" | "deleted";
                                size?: number;
                                sha256?: string;
                            }[];
                        };
                        error?: {
                            /** @enum {string} */
                            code: "timeout" | "memory_limit" | "output_limit" | "syntax_error" | "runtime_error" | "cancelled" | "nonzero_exit" | "pids_limit" | "disk_limit" | "capability_uncertain" | "internal";
                            message: string;
                        };
                        usage?: {
                            wallMs: number;
                            cpuMs: number;
                            peakMemoryBytes?: number;
                        };
                        callbackUrl?: string;
                        compensations?: {
                            call: number;
                            of: string;
                            capability: string;
                            /** @enum {string} */
                            status: "pending" | "done" | "failed";
                            attempts: number;
                            error?: {
                                code: string;
                                message: string;
                            };
                            finishedAt?: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than the limit */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getTasksById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        /** @enum {string} */
                        status: "queued" | "running" | "waiting_approval" | "succeeded" | "failed" | "timed_out" | "cancelled";
                        /** @enum {string} */
                        runtime: "javascript" | "typescript" | "python" | "node" | "bash";
                        createdAt: string;
                        startedAt?: string;
                        finishedAt?: string;
                        limits: {
                            timeoutMs: number;
                            cpuMs: number;
                            memoryMb: number;
                            outputBytes: number;
                        };
                        metadata: {
                            userId?: string;
                            promptSnippet?: string;
                            sessionId?: string;
                        };
                        result?: {
                            value: unknown;
                            stdout: string;
                            stderr: string;
                            /** @enum {string} */
                            stdoutEncoding?: "base64";
                            /** @enum {string} */
                            stderrEncoding?: "base64";
                            stdoutTruncated: boolean;
                            stderrTruncated: boolean;
                            exitCode?: number | null;
                            files?: {
                                path: string;
                                size: number;
                                sha256: string;
                            }[];
                            changes?: {
                                grant: string;
                                path: string;
                                /** @enum {string} */
                                change: "created" | "modified" | "deleted";
                                size?: number;
                                sha256?: string;
                            }[];
                        };
                        error?: {
                            /** @enum {string} */
                            code: "timeout" | "memory_limit" | "output_limit" | "syntax_error" | "runtime_error" | "cancelled" | "nonzero_exit" | "pids_limit" | "disk_limit" | "capability_uncertain" | "internal";
                            message: string;
                        };
                        usage?: {
                            wallMs: number;
                            cpuMs: number;
                            peakMemoryBytes?: number;
                        };
                        callbackUrl?: string;
                        compensations?: {
                            call: number;
                            of: string;
                            capability: string;
                            /** @enum {string} */
                            status: "pending" | "done" | "failed";
                            attempts: number;
                            error?: {
                                code: string;
                                message: string;
                            };
                            finishedAt?: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteTasksById: {
        parameters: {
            query?: never;
            header?: {
                /** @description Makes a retry safe: the same key with the same request answers the first result (24 h) */
                "Idempotency-Key"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        /** @enum {string} */
                        status: "queued" | "running" | "waiting_approval" | "succeeded" | "failed" | "timed_out" | "cancelled";
                        /** @enum {string} */
                        runtime: "javascript" | "typescript" | "python" | "node" | "bash";
                        createdAt: string;
                        startedAt?: string;
                        finishedAt?: string;
                        limits: {
                            timeoutMs: number;
                            cpuMs: number;
                            memoryMb: number;
                            outputBytes: number;
                        };
                        metadata: {
                            userId?: string;
                            promptSnippet?: string;
                            sessionId?: string;
                        };
                        result?: {
                            value: unknown;
                            stdout: string;
                            stderr: string;
                            /** @enum {string} */
                            stdoutEncoding?: "base64";
                            /** @enum {string} */
                            stderrEncoding?: "base64";
                            stdoutTruncated: boolean;
                            stderrTruncated: boolean;
                            exitCode?: number | null;
                            files?: {
                                path: string;
                                size: number;
                                sha256: string;
                            }[];
                            changes?: {
                                grant: string;
                                path: string;
                                /** @enum {string} */
                                change: "created" | "modified" | "deleted";
                                size?: number;
                                sha256?: string;
                            }[];
                        };
                        error?: {
                            /** @enum {string} */
                            code: "timeout" | "memory_limit" | "output_limit" | "syntax_error" | "runtime_error" | "cancelled" | "nonzero_exit" | "pids_limit" | "disk_limit" | "capability_uncertain" | "internal";
                            message: string;
                        };
                        usage?: {
                            wallMs: number;
                            cpuMs: number;
                            peakMemoryBytes?: number;
                        };
                        callbackUrl?: string;
                        compensations?: {
                            call: number;
                            of: string;
                            capability: string;
                            /** @enum {string} */
                            status: "pending" | "done" | "failed";
                            attempts: number;
                            error?: {
                                code: string;
                                message: string;
                            };
                            finishedAt?: string;
                        }[];
                    };
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A request with the same `Idempotency-Key` is still in progress, or the state conflicts */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Idempotency-Key` was used before with another request */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getTasksFilesById: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                "*": string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getTasksEvents: {
        parameters: {
            query?: never;
            header?: {
                "last-event-id"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Server-Sent Events: `status`, `output` and `result` events until the task ends; resume with `Last-Event-ID` */
            200: {
                headers: {
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description The request is malformed: a field, parameter or header is invalid */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No valid credential: send `Authorization: Bearer <API key or token>` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A policy refused the request */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such resource (or not visible to the caller) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A rate limit or quota is used up; retry after `Retry-After` seconds */
            429: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    /** @description Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers) */
                    RateLimit?: string;
                    /** @description The quota policies that apply to this request */
                    "RateLimit-Policy"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After` */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}

//! Records decoded from a row's plain values, the same on every SQL backend: a backend says how
//! to read one column of its rows as text, an integer, a flag, bytes or a time ([`Columns`]),
//! and the record is assembled here, once.

use serde_json::Value;
use time::OffsetDateTime;

use crate::{
    ApiKeyRecord, ClientRecord, ConsoleSession, DeadLetter, DeliveryAttempt, Event, Kind,
    LogCounts, LogEntry, Member, Operator, Outcome, Plan, PortalLink, StoreError, Tenant, TenantId,
    TokenRecord, WebhookRecord,
};

/// One row of a backend, read column by column. A backend implements the nullable readers;
/// the others fail on a null.
pub trait Columns {
    /// A text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    /// A timestamp column, however the backend stores it.
    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>, StoreError>;
    /// A boolean column (an integer 0 or 1 on SQLite).
    fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError>;
    /// A bytes column.
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A boolean column that is never null.
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.opt_flag(column)?.ok_or_else(|| null(column))
    }
    /// A bytes column that is never null.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.opt_bytes(column)?.ok_or_else(|| null(column))
    }

    /// A text column that is never null.
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?.ok_or_else(|| null(column))
    }
    /// An integer column that is never null.
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?.ok_or_else(|| null(column))
    }
    /// A timestamp column that is never null.
    fn time(&self, column: &str) -> Result<OffsetDateTime, StoreError> {
        self.opt_time(column)?.ok_or_else(|| null(column))
    }
}

fn null(column: &str) -> StoreError {
    StoreError::Internal(format!("{column} is null"))
}

/// A resource's stored JSON.
pub fn stored_json(text: String) -> Result<Value, StoreError> {
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("stored JSON: {e}")))
}

/// A stored kind.
pub fn kind(text: &str) -> Result<Kind, StoreError> {
    Kind::parse(text).ok_or_else(|| StoreError::Internal(format!("bad kind {text}")))
}

/// A SHA-256 hash column; `what` names it in the error.
fn hash(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Internal(format!("bad {what} hash")))
}

/// The columns [`tenant`] reads, from [`TENANTS`].
pub const TENANT_COLUMNS: &str = "t.id, t.name, t.created_at, t.settings, t.slug, t.external_id, \
     t.plan, p.provisioning AS plan_provisioning, p.sso AS plan_sso";

/// Tenants with their plans (`tenants t`, `plans p`); a plan that no longer exists reads as
/// one that includes nothing.
pub const TENANTS: &str = "tenants t LEFT JOIN plans p ON p.name = t.plan";

/// A tenant: [`TENANT_COLUMNS`].
pub fn tenant(row: &impl Columns) -> Result<Tenant, StoreError> {
    let settings = row.text("settings")?;
    let id = row.text("id")?;
    Ok(Tenant {
        slug: row.opt_text("slug")?.unwrap_or_else(|| id.clone()),
        id: TenantId::new(id),
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Internal(format!("bad tenant settings: {e}")))?,
        external_id: row.opt_text("external_id")?,
        plan: Plan {
            name: row.text("plan")?,
            provisioning: row.opt_flag("plan_provisioning")?.unwrap_or(false),
            sso: row.opt_flag("plan_sso")?.unwrap_or(false),
        },
    })
}

/// A plan: `name, provisioning, sso`.
pub fn plan(row: &impl Columns) -> Result<Plan, StoreError> {
    Ok(Plan {
        name: row.text("name")?,
        provisioning: row.flag("provisioning")?,
        sso: row.flag("sso")?,
    })
}

/// The columns [`operator`] reads.
pub const OPERATOR_COLUMNS: &str = "id, email, password_hash, created_at, totp_sealed, totp_step";

/// An operator: [`OPERATOR_COLUMNS`].
pub fn operator(row: &impl Columns) -> Result<Operator, StoreError> {
    Ok(Operator {
        id: row.text("id")?,
        email: row.text("email")?,
        password_hash: row.text("password_hash")?,
        created_at: row.time("created_at")?,
        totp_sealed: row.opt_bytes("totp_sealed")?,
        totp_step: row.int("totp_step")?,
    })
}

/// The columns [`session`] reads.
pub const SESSION_COLUMNS: &str = "hash, operator_id, tenant_id, csrf, created_at, expires_at";

/// A console session: [`SESSION_COLUMNS`].
pub fn session(row: &impl Columns) -> Result<ConsoleSession, StoreError> {
    Ok(ConsoleSession {
        hash: hash(row.bytes("hash")?, "session")?,
        operator_id: row.opt_text("operator_id")?,
        tenant_id: row.opt_text("tenant_id")?.map(TenantId::new),
        csrf: row.text("csrf")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

/// The columns [`portal_link`] reads.
pub const PORTAL_LINK_COLUMNS: &str =
    "id, tenant_id, hash, created_at, expires_at, opened_at, revoked_at";

/// A setup link: [`PORTAL_LINK_COLUMNS`].
pub fn portal_link(row: &impl Columns) -> Result<PortalLink, StoreError> {
    Ok(PortalLink {
        id: row.text("id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        hash: hash(row.bytes("hash")?, "setup link")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        opened_at: row.opt_time("opened_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The columns [`token`] reads, from `tokens k`.
pub const TOKEN_COLUMNS: &str = "k.id AS token_id, k.tenant_id AS token_tenant, k.hash, \
     k.created_at AS token_created, k.name AS token_name, k.last4, k.expires_at, k.last_used_at, \
     k.revoked_at, k.client_id, k.sealed";

/// A token: [`TOKEN_COLUMNS`].
pub fn token(row: &impl Columns) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.text("token_id")?,
        tenant_id: TenantId::new(row.text("token_tenant")?),
        hash: hash(row.bytes("hash")?, "token")?,
        created_at: row.time("token_created")?,
        name: row.text("token_name")?,
        last4: row.text("last4")?,
        expires_at: row.opt_time("expires_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        client_id: row.opt_text("client_id")?,
        sealed: row.opt_bytes("sealed")?,
    })
}

/// The columns [`client`] reads.
pub const CLIENT_COLUMNS: &str = "id, tenant_id, name, secret_hash, created_at, revoked_at";

/// An OAuth client: [`CLIENT_COLUMNS`].
pub fn client(row: &impl Columns) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        id: row.text("id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        name: row.text("name")?,
        secret_hash: hash(row.bytes("secret_hash")?, "client secret")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The columns [`api_key`] reads.
pub const API_KEY_COLUMNS: &str = "id, name, hash, created_at, revoked_at, scopes";

/// An API key: [`API_KEY_COLUMNS`].
pub fn api_key(row: &impl Columns) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        hash: hash(row.bytes("hash")?, "API key")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        scopes: row
            .text("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

/// A member of a group: `id, kind, display`.
pub fn member(row: &impl Columns) -> Result<Member, StoreError> {
    Ok(Member {
        id: row.text("id")?,
        kind: kind(&row.text("kind")?)?,
        display: row.opt_text("display")?,
    })
}

/// An event of the change log: `position, id, tenant_id, type, occurred_at, data`.
pub fn event(row: &impl Columns) -> Result<Event, StoreError> {
    let data = row.text("data")?;
    Ok(Event {
        position: row.int("position")?,
        id: row.text("id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        event_type: row.text("type")?,
        occurred_at: row.time("occurred_at")?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Internal(e.to_string()))?,
    })
}

/// The columns of an approval, for [`approval`].
pub const APPROVAL_COLUMNS: &str = "id, tenant_id, target_id, kind, source_id, name, action, \
     request, digest, reason, state, created_at, decided_at, decided_by";

/// An approval: [`APPROVAL_COLUMNS`].
pub fn approval(row: &impl Columns) -> Result<crate::Approval, StoreError> {
    Ok(crate::Approval {
        id: row.text("id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        target_id: row.text("target_id")?,
        kind: kind(&row.text("kind")?)?,
        source_id: row.text("source_id")?,
        name: row.text("name")?,
        action: row.text("action")?,
        request: stored_json(row.text("request")?)?,
        digest: row.text("digest")?,
        reason: row.text("reason")?,
        state: row.text("state")?,
        created_at: row.int("created_at")?,
        decided_at: row.opt_int("decided_at")?,
        decided_by: row.opt_text("decided_by")?,
    })
}

/// A tenant's hold: [`HOLD_COLUMNS`].
pub fn hold(row: &impl Columns) -> Result<crate::Hold, StoreError> {
    Ok(crate::Hold {
        id: row.text("id")?,
        started_at: row.time("started_at")?,
        threshold: row.text("threshold")?,
        removals: u64::try_from(row.int("removals")?).unwrap_or(0),
        ended_at: row.opt_time("ended_at")?,
        outcome: row.opt_text("outcome")?,
        ended_by: row.opt_text("ended_by")?,
    })
}

/// The columns of a hold, for [`hold`].
pub const HOLD_COLUMNS: &str = "id, started_at, threshold, removals, ended_at, outcome, ended_by";

/// A webhook: [`webhooks::COLUMNS`](super::webhooks::COLUMNS).
pub fn webhook(row: &impl Columns) -> Result<WebhookRecord, StoreError> {
    Ok(WebhookRecord {
        id: row.text("id")?,
        url: row.text("url")?,
        tenant_id: row.opt_text("tenant_id")?.map(TenantId::new),
        secret: row.text("secret")?,
        previous_secret: row.opt_text("previous_secret")?,
        previous_until: row.opt_int("previous_until")?,
        created_at: row.int("created_at")?,
        allow_link_local: row.flag("allow_link_local")?,
    })
}

/// A dead letter: `webhook_id, tenant_id, event_id, position, at, error`.
pub fn dead_letter(row: &impl Columns) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        webhook_id: row.text("webhook_id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        event_id: row.text("event_id")?,
        position: row.int("position")?,
        at: row.int("at")?,
        error: row.text("error")?,
    })
}

/// A delivery attempt: [`webhooks::ATTEMPTS`](super::webhooks::ATTEMPTS).
pub fn attempt(row: &impl Columns) -> Result<DeliveryAttempt, StoreError> {
    Ok(DeliveryAttempt {
        webhook_id: row.text("webhook_id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        event_id: row.text("event_id")?,
        position: row.int("position")?,
        attempt: row.int("attempt")?,
        at: row.int("at")?,
        status: row.opt_int("status")?,
        error: row.opt_text("error")?,
        latency_ms: row.int("latency_ms")?,
    })
}

/// The columns [`log_entry`] reads, from `provisioning_log`.
pub const LOG_COLUMNS: &str = "seq, tenant_id, at, request_id, duration_ms, method, path, query, \
     status, scim_type, outcome, client, user_agent, credential, action, resource_type, \
     resource_id, resource_name, summary, explanation, hint, normalizations, request_body, \
     response_body";

/// An entry of the provisioning log: [`LOG_COLUMNS`]. A stored outcome or status this build
/// does not know is an error that names it: stored data is never guessed at.
pub fn log_entry(row: &impl Columns) -> Result<LogEntry, StoreError> {
    let outcome = row.text("outcome")?;
    let status = row.int("status")?;
    Ok(LogEntry {
        seq: row.int("seq")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        at: row.time("at")?,
        request_id: row.text("request_id")?,
        duration_ms: row.int("duration_ms")?,
        method: row.text("method")?,
        path: row.text("path")?,
        query: row.text("query")?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::Internal(format!("bad logged status {status}")))?,
        scim_type: row.opt_text("scim_type")?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| StoreError::Internal(format!("bad logged outcome {outcome:?}")))?,
        client: row.text("client")?,
        user_agent: row.text("user_agent")?,
        credential: row.text("credential")?,
        action: row.text("action")?,
        resource_type: row.text("resource_type")?,
        resource_id: row.text("resource_id")?,
        resource_name: row.text("resource_name")?,
        summary: row.text("summary")?,
        explanation: row.text("explanation")?,
        hint: row.text("hint")?,
        normalizations: row
            .text("normalizations")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        request_body: row.text("request_body")?,
        response_body: row.text("response_body")?,
    })
}

/// The counts of the health summary: `total, refused, failed`.
pub fn log_counts(row: &impl Columns) -> Result<LogCounts, StoreError> {
    let count = |column| row.int(column).map(|n| u64::try_from(n).unwrap_or(0));
    Ok(LogCounts {
        total: count("total")?,
        refused: count("refused")?,
        failed: count("failed")?,
    })
}

/// The columns [`sso_connection`] reads.
pub const SSO_CONNECTION_COLUMNS: &str =
    "id, tenant_id, name, protocol, settings, sealed, is_default, created_at, updated_at";

/// A connection: [`SSO_CONNECTION_COLUMNS`].
pub fn sso_connection(row: &impl Columns) -> Result<crate::SsoConnectionRecord, StoreError> {
    Ok(crate::SsoConnectionRecord {
        id: row.text("id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        name: row.text("name")?,
        protocol: row.text("protocol")?,
        settings: serde_json::from_str(&row.text("settings")?)
            .map_err(|e| StoreError::Internal(format!("bad connection settings: {e}")))?,
        sealed: row.bytes("sealed")?,
        is_default: row.flag("is_default")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The columns [`host_app`] reads.
pub const HOST_APP_COLUMNS: &str =
    "id, name, secret_hash, redirect_uris, login_uri, created_at, revoked_at";

/// A host application: [`HOST_APP_COLUMNS`].
pub fn host_app(row: &impl Columns) -> Result<crate::HostAppRecord, StoreError> {
    Ok(crate::HostAppRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        secret_hash: hash(row.bytes("secret_hash")?, "host application")?,
        redirect_uris: serde_json::from_str(&row.text("redirect_uris")?)
            .map_err(|e| StoreError::Internal(format!("bad redirect URIs: {e}")))?,
        login_uri: row.opt_text("login_uri")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The columns [`signing_key`] reads.
pub const SIGNING_KEY_COLUMNS: &str = "kid, sealed, public_jwk, created_at, signs_from, retired_at";

/// A signing key: [`SIGNING_KEY_COLUMNS`].
pub fn signing_key(row: &impl Columns) -> Result<crate::SigningKeyRecord, StoreError> {
    Ok(crate::SigningKeyRecord {
        kid: row.text("kid")?,
        sealed: row.bytes("sealed")?,
        public_jwk: serde_json::from_str(&row.text("public_jwk")?)
            .map_err(|e| StoreError::Internal(format!("bad public key: {e}")))?,
        created_at: row.time("created_at")?,
        signs_from: row.time("signs_from")?,
        retired_at: row.opt_time("retired_at")?,
    })
}

/// The columns [`target`] reads.
pub const TARGET_COLUMNS: &str =
    "id, tenant_id, name, settings, sealed, paused, created_at, updated_at";

/// A target: [`TARGET_COLUMNS`].
pub fn target(row: &impl Columns) -> Result<crate::TargetRecord, StoreError> {
    Ok(crate::TargetRecord {
        id: row.text("id")?,
        tenant_id: TenantId::new(row.text("tenant_id")?),
        name: row.text("name")?,
        settings: serde_json::from_str(&row.text("settings")?)
            .map_err(|e| StoreError::Internal(format!("bad target settings: {e}")))?,
        sealed: row.bytes("sealed")?,
        paused: row.flag("paused")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The columns [`target_object`] reads (with the target's tenant, `t.tenant_id`).
pub const TARGET_OBJECT_COLUMNS: &str = "t.tenant_id, o.target_id, o.kind, o.source_id, \
     o.remote_id, o.digest, o.sent, o.deactivated, o.updated_at";

/// What a target holds of an object: [`TARGET_OBJECT_COLUMNS`].
pub fn target_object(row: &impl Columns) -> Result<crate::TargetObject, StoreError> {
    Ok(crate::TargetObject {
        tenant_id: TenantId::new(row.text("tenant_id")?),
        target_id: row.text("target_id")?,
        kind: kind(&row.text("kind")?)?,
        source_id: row.text("source_id")?,
        remote_id: row.text("remote_id")?,
        digest: row.text("digest")?,
        sent: stored_json(row.text("sent")?)?,
        deactivated: row.flag("deactivated")?,
        updated_at: row.time("updated_at")?,
    })
}

/// The columns [`target_run`] reads (with the target's tenant, `t.tenant_id`).
pub const TARGET_RUN_COLUMNS: &str = "t.tenant_id, r.target_id, r.phase, r.cursor, r.position, \
     r.processed, r.total, r.failures, r.error, r.quarantined, r.next_at, r.cycle_ended_at,
     r.cycle_started_at";

/// A target's run: [`TARGET_RUN_COLUMNS`].
pub fn target_run(row: &impl Columns) -> Result<crate::TargetRun, StoreError> {
    Ok(crate::TargetRun {
        tenant_id: TenantId::new(row.text("tenant_id")?),
        target_id: row.text("target_id")?,
        phase: row.text("phase")?,
        cursor: row.text("cursor")?,
        position: row.int("position")?,
        processed: row.int("processed")?,
        total: row.int("total")?,
        failures: row.int("failures")?,
        error: row.opt_text("error")?,
        quarantined: row.flag("quarantined")?,
        next_at: row.int("next_at")?,
        cycle_ended_at: row.int("cycle_ended_at")?,
        cycle_started_at: row.int("cycle_started_at")?,
    })
}

//! The PostgreSQL storage backend: one database shared by any number of Roster processes.
//!
//! Nothing here is cached: every guarantee (a unique userName, optimistic versions, members
//! that exist) is enforced by the database in the statement or transaction that writes, so
//! two processes on one database behave as one. Single-statement writes (a user's create,
//! update and delete) run without an explicit transaction, as one round trip: PostgreSQL runs
//! a statement and its data-modifying CTEs atomically. Writes with member rows use a
//! transaction.
//!
//! SCIM filters become SQL through the same translation as the SQLite backend's
//! ([`roster_store::sql`]); what it cannot express is evaluated in memory by the protocol
//! crate over the rows the SQL narrowed down.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use roster_scim::schema::ResourceSchema;
use roster_scim::value::FOLD_VERSION;
use roster_store::sql::webhooks as wh;
use roster_store::sql::{
    Bind, Sql, conflict_attribute, email_keys, epoch_millis, groups_from_json, indexed, name_key,
    numbered, sort_column, translate,
};
use roster_store::streams;
use roster_store::{
    ApiKeyRecord, ClientRecord, DeadLetter, DeliveryAttempt, Event, Grant, GroupRef, Kind,
    ListQuery, Member, MemberRef, MembersChange, NewEvent, Page, PageBudget, PoolStats, Store,
    StoreError, StoredResource, Stream, StreamUpdate, Tenant, TenantId, TokenRecord, WebhookRecord,
    memory_eval,
};
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{PgConnection, Postgres, Row};
use time::OffsetDateTime;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How a process uses the database's connections.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The most connections this process holds open.
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// A store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Requests waiting for a connection now.
    waiting: Arc<AtomicU64>,
}

/// Counts a request as waiting for a connection while it lives.
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicU64) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// SQLSTATE classes and codes that mean the database is away or shedding load, not that the
/// request is wrong: the client may retry.
fn transient(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin shutdown, crash shutdown, cannot connect now
        || code == "53300" // too many connections
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
}

fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d) if d.code().is_some_and(|c| transient(&c)) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`) and brings
    /// its schema up to date. Two processes starting at once are safe: the migrations run
    /// under a PostgreSQL advisory lock, so one applies them and the other finds them done.
    pub async fn open(url: &str, pool: PoolConfig) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
            .application_name("roster");
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .min_connections(0)
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            // No ping before every use: it would double each request's round trips. A
            // connection that died (the database restarted) fails its statement, that request
            // is answered 503, and the pool drops the connection and opens a new one.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        let mut conn = pool.acquire().await.map_err(db_err)?;
        MIGRATOR
            .run(&mut *conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating the database: {e}")))?;
        drop(conn);
        refold_keys(&pool).await?;
        Ok(PostgresStore {
            pool,
            waiting: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A connection from the pool, counted as waiting until it comes.
    async fn conn(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        let _waiting = Waiting::new(&self.waiting);
        self.pool.acquire().await.map_err(db_err)
    }

    /// A transaction on a pooled connection.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let _waiting = Waiting::new(&self.waiting);
        self.pool.begin().await.map_err(db_err)
    }

    /// [`Store::update_recorded`]; given the resource as it was read (`previous`), `name_key`
    /// is left as stored when the name's key is unchanged. That is what keeps a resource whose
    /// key was left as an older fold wrote it (two names that became one, see `refold_keys`)
    /// writable without a rename.
    async fn update(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
        previous: Option<&StoredResource>,
    ) -> Result<(), StoreError> {
        let ix = indexed(resource);
        let unchanged = previous
            .is_some_and(|p| p.kind == resource.kind && name_key(p.kind, &p.data) == ix.name_key);
        let name_key = (!unchanged).then_some(ix.name_key.as_str());
        let keep = matches!(members, MembersChange::Keep);
        // Without member rows to change, the events are written by the update's own statement;
        // with them, after the members, in the same transaction.
        let (inline, after): (&[NewEvent], &[NewEvent]) =
            if keep { (events, &[]) } else { (&[], events) };
        let a = event_arrays(inline);
        // Byte order, as the "C" collation of `value_key` compares.
        let mut sorted_emails = ix.emails.clone();
        sorted_emails.sort_unstable();
        let statement = sqlx::query_scalar::<_, i64>(UPDATE_RESOURCE)
            .bind(name_key)
            .bind(&ix.display)
            .bind(&ix.external_id)
            .bind(ix.active)
            .bind(resource.last_modified)
            .bind(resource.version)
            .bind(resource.data.to_string())
            .bind(tenant.as_str())
            .bind(&resource.id)
            .bind(resource.kind.as_str())
            .bind(expected_version)
            .bind(&ix.emails)
            .bind(&sorted_emails)
            .bind(&a.ids)
            .bind(&a.types)
            .bind(&a.at)
            .bind(&a.data);
        let conflict = |e: sqlx::Error| {
            if is_unique_violation(&e) {
                StoreError::Conflict(conflict_attribute(resource.kind))
            } else {
                db_err(e)
            }
        };
        if keep {
            let mut conn = self.conn().await?;
            return match statement
                .fetch_optional(&mut *conn)
                .await
                .map_err(conflict)?
            {
                Some(_) => Ok(()),
                None => Err(missing_or_stale(&mut conn, tenant, resource.kind, &resource.id).await),
            };
        }
        let mut tx = self.begin().await?;
        let Some(seq) = statement.fetch_optional(&mut *tx).await.map_err(conflict)? else {
            return Err(missing_or_stale(&mut tx, tenant, resource.kind, &resource.id).await);
        };
        apply_members(&mut tx, tenant, seq, members).await?;
        insert_events(&mut tx, tenant, after).await?;
        tx.commit().await.map_err(db_err)
    }
}

/// Folds again, in one transaction, the keys (`resources.name_key`, `emails.value_key`) that
/// an older `fold_case` wrote, when `key_fold` says they are older than this build's
/// ([`FOLD_VERSION`]). The `key_fold` row stays locked until the commit, so of two processes
/// starting at once, one folds and the other waits and finds it done. Only keys with a
/// character beyond ASCII can differ: the first fold (simple lowercase) made ASCII keys only of
/// ASCII letters and the Kelvin sign, which the current fold maps to the same letters.
///
/// Two names that were different under the old fold and are the same under the new one (a
/// user created as "José" in NFC and again in NFD) both keep working: the row whose new key is
/// taken keeps its old key and a warning names both rows; only a rename frees it.
async fn refold_keys(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let version: i64 = sqlx::query_scalar("SELECT version::bigint FROM key_fold FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if version >= FOLD_VERSION {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT seq, tenant_id, id, kind, name_key, data FROM resources
         WHERE octet_length(name_key) <> char_length(name_key) ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut refolded = 0;
    for row in &rows {
        let seq: i64 = row.try_get("seq").map_err(db_err)?;
        let tenant: String = row.try_get("tenant_id").map_err(db_err)?;
        let id: String = row.try_get("id").map_err(db_err)?;
        let kind: String = row.try_get("kind").map_err(db_err)?;
        let old: String = row.try_get("name_key").map_err(db_err)?;
        let kind =
            Kind::parse(&kind).ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?;
        let key = name_key(kind, &stored_json(row.try_get("data").map_err(db_err)?)?);
        if key == old {
            continue;
        }
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM resources WHERE tenant_id = $1 AND kind = $2 AND name_key = $3",
        )
        .bind(&tenant)
        .bind(kind.as_str())
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(other) = taken {
            tracing::warn!(
                tenant = %tenant,
                kind = kind.as_str(),
                id = %id,
                same_name_as = %other,
                "two resources have names that are now the same; this one keeps its old key, \
                 so both stay reachable, until one of them is renamed"
            );
            continue;
        }
        sqlx::query("UPDATE resources SET name_key = $1 WHERE seq = $2")
            .bind(&key)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        refolded += 1;
    }
    let with_emails = sqlx::query(
        "SELECT r.seq, r.tenant_id, r.data FROM resources r WHERE r.seq IN
           (SELECT resource_seq FROM emails WHERE octet_length(value_key) <> char_length(value_key))",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    for row in &with_emails {
        let seq: i64 = row.try_get("seq").map_err(db_err)?;
        let tenant: String = row.try_get("tenant_id").map_err(db_err)?;
        let keys = email_keys(&stored_json(row.try_get("data").map_err(db_err)?)?);
        sqlx::query("DELETE FROM emails WHERE resource_seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO emails (resource_seq, tenant_id, value_key)
             SELECT $1, $2, unnest($3::text[])",
        )
        .bind(seq)
        .bind(&tenant)
        .bind(&keys)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    sqlx::query("UPDATE key_fold SET version = $1")
        .bind(FOLD_VERSION as i32)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    // A new database has nothing to fold: no line for it.
    if refolded > 0 || !with_emails.is_empty() {
        tracing::info!(
            from = version,
            to = FOLD_VERSION,
            names = refolded,
            emails = with_emails.len(),
            "name and e-mail keys folded again"
        );
    }
    Ok(())
}

fn stored_json(text: String) -> Result<Value, StoreError> {
    serde_json::from_str(&text).map_err(|e| StoreError::Internal(format!("stored JSON: {e}")))
}

async fn members_of(conn: &mut PgConnection, group_seq: i64) -> Result<Vec<Member>, StoreError> {
    // Members come back in a stable order: by member creation order.
    let rows = sqlx::query(
        "SELECT m.id, m.kind, coalesce(x.display, m.display) AS display
         FROM members x JOIN resources m ON m.seq = x.member_seq
         WHERE x.group_seq = $1 ORDER BY m.seq",
    )
    .bind(group_seq)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter().map(member_from_row).collect()
}

fn member_from_row(row: &PgRow) -> Result<Member, StoreError> {
    let kind: String = row.try_get("kind").map_err(db_err)?;
    Ok(Member {
        id: row.try_get("id").map_err(db_err)?,
        kind: Kind::parse(&kind).ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?,
        display: row.try_get("display").map_err(db_err)?,
    })
}

const RESOURCE_COLUMNS: &str = "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data";

/// The resource columns plus a user's groups, gathered by one correlated subquery per row
/// (an index range on `members_member`), so a user and its groups are read in one statement.
const RESOURCE_COLUMNS_WITH_GROUPS: &str =
    "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data,
    coalesce((SELECT json_agg(json_build_array(g.id, g.display) ORDER BY g.seq)
              FROM members x JOIN resources g ON g.seq = x.group_seq
              WHERE x.member_seq = r.seq)::text, '[]') AS groups_json";

fn columns(kind: Kind, with_relations: bool) -> &'static str {
    if with_relations && kind == Kind::User {
        RESOURCE_COLUMNS_WITH_GROUPS
    } else {
        RESOURCE_COLUMNS
    }
}

fn resource_from_row(row: &PgRow) -> Result<(i64, StoredResource), StoreError> {
    let kind: String = row.try_get("kind").map_err(db_err)?;
    let data: String = row.try_get("data").map_err(db_err)?;
    // Present only when the statement asked for a user's groups.
    let groups = match row.try_get::<Option<String>, _>("groups_json") {
        Ok(Some(json)) => Some(groups_from_json(&json)?),
        _ => None,
    };
    Ok((
        row.try_get("seq").map_err(db_err)?,
        StoredResource {
            id: row.try_get("id").map_err(db_err)?,
            kind: Kind::parse(&kind)
                .ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?,
            version: row.try_get("version").map_err(db_err)?,
            created: row.try_get("created").map_err(db_err)?,
            last_modified: row.try_get("last_modified").map_err(db_err)?,
            data: serde_json::from_str(&data).map_err(|e| StoreError::Internal(e.to_string()))?,
            members: None,
            groups,
        },
    ))
}

/// The members to add, one entry per id (PostgreSQL refuses to update one row twice in a
/// statement): ids in first-seen order and their display names, a later display name for the
/// same member winning, as it would one by one.
fn distinct_members(members: &[MemberRef]) -> (Vec<&str>, Vec<Option<&str>>) {
    let mut position = std::collections::HashMap::with_capacity(members.len());
    let mut ids: Vec<&str> = Vec::with_capacity(members.len());
    let mut displays: Vec<Option<&str>> = Vec::with_capacity(members.len());
    for m in members {
        match position.get(m.id.as_str()) {
            Some(&i) => {
                if m.display.is_some() {
                    displays[i] = m.display.as_deref();
                }
            }
            None => {
                position.insert(m.id.as_str(), ids.len());
                ids.push(&m.id);
                displays.push(m.display.as_deref());
            }
        }
    }
    (ids, displays)
}

/// The first of `ids` that names no resource of the tenant.
async fn first_unknown(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: &[&str],
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT v.id FROM unnest($2::text[]) WITH ORDINALITY AS v (id, n)
         WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.tenant_id = $1 AND r.id = v.id)
         ORDER BY v.n LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(ids)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)
}

/// Adds and removes members of a group and bumps its version in one statement, for a change
/// whose additions and removals name different members (a statement cannot delete and then
/// re-insert one row). The group's row is updated only when every member to add exists in the
/// tenant (and the version matches), so a refused change changes nothing; the row lock it
/// takes is held only for this statement's commit. Returns the new version, or no row.
const CHANGE_MEMBERS: &str = "WITH v AS (
        SELECT r.seq, CASE WHEN x.display IS NULL OR x.display = r.display
                           THEN NULL ELSE x.display END AS display
        FROM unnest($5::text[], $6::text[]) AS x (id, display)
        JOIN resources r ON r.tenant_id = $2 AND r.id = x.id
    ), g AS (
        UPDATE resources SET version = version + 1, last_modified = $1
        WHERE tenant_id = $2 AND id = $3 AND kind = 'Group'
          AND ($4::bigint IS NULL OR version = $4)
          AND (SELECT count(*) FROM v) = cardinality($5::text[])
        RETURNING seq, version
    ), d AS (
        DELETE FROM members WHERE group_seq IN (SELECT seq FROM g)
          AND member_seq IN (SELECT seq FROM resources WHERE tenant_id = $2 AND id = ANY($7))
    ), i AS (
        INSERT INTO members (group_seq, member_seq, display)
        SELECT g.seq, v.seq, v.display FROM g, v
        ON CONFLICT (group_seq, member_seq) DO UPDATE
        SET display = coalesce(excluded.display, members.display)
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $2, x.type, x.at, x.data FROM g,
               unnest($8::text[], $9::text[], $10::timestamptz[], $11::text[])
               AS x (id, type, at, data)
    )
    SELECT version FROM g";

/// Inserts the member rows of a group in one statement, refusing ids that are not resources
/// of the tenant (the caller's transaction is then dropped, changing nothing).
async fn add_members(
    tx: &mut PgConnection,
    tenant: &TenantId,
    group_seq: i64,
    members: &[MemberRef],
) -> Result<(), StoreError> {
    if members.is_empty() {
        return Ok(());
    }
    let (ids, displays) = distinct_members(members);
    // A client's display name is kept only where it differs from the member's own, so that
    // renaming a user still shows in the groups nobody labelled otherwise.
    let done = sqlx::query(
        "INSERT INTO members (group_seq, member_seq, display)
         SELECT $1, r.seq, CASE WHEN v.display IS NULL OR v.display = r.display
                                THEN NULL ELSE v.display END
         FROM unnest($3::text[], $4::text[]) AS v (id, display)
         JOIN resources r ON r.tenant_id = $2 AND r.id = v.id
         ON CONFLICT (group_seq, member_seq) DO UPDATE
         SET display = coalesce(excluded.display, members.display)",
    )
    .bind(group_seq)
    .bind(tenant.as_str())
    .bind(&ids)
    .bind(&displays)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() < ids.len() as u64 {
        let missing = first_unknown(tx, tenant, &ids).await?;
        return Err(StoreError::UnknownMember(missing.unwrap_or_default()));
    }
    Ok(())
}

/// Applies a change of members to a group's rows.
async fn apply_members(
    tx: &mut PgConnection,
    tenant: &TenantId,
    group_seq: i64,
    change: &MembersChange,
) -> Result<(), StoreError> {
    match change {
        MembersChange::Keep => {}
        MembersChange::Replace(ids) => {
            sqlx::query("DELETE FROM members WHERE group_seq = $1")
                .bind(group_seq)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            add_members(tx, tenant, group_seq, ids).await?;
        }
        MembersChange::Delta { add, remove } => {
            if !remove.is_empty() {
                sqlx::query(
                    "DELETE FROM members WHERE group_seq = $1 AND member_seq IN
                       (SELECT seq FROM resources WHERE tenant_id = $2 AND id = ANY($3))",
                )
                .bind(group_seq)
                .bind(tenant.as_str())
                .bind(remove)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            add_members(tx, tenant, group_seq, add).await?;
        }
    }
    Ok(())
}

/// Whether a resource exists, to tell a stale version from a missing resource after a
/// conditional write matched no row.
async fn missing_or_stale(
    conn: &mut PgConnection,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
) -> StoreError {
    let exists = sqlx::query_scalar::<_, i64>(
        "SELECT seq FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = $3",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(kind.as_str())
    .fetch_optional(&mut *conn)
    .await;
    match exists {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound,
        Err(e) => db_err(e),
    }
}

/// Deletes a resource if its version matches (when given) and records its events, in one
/// statement; returns its `seq`, or no row. Memberships and e-mail rows go with the resource
/// (ON DELETE CASCADE).
const DELETE_RESOURCE: &str = "WITH d AS (
        DELETE FROM resources
        WHERE tenant_id = $1 AND id = $2 AND kind = $3 AND ($4::bigint IS NULL OR version = $4)
        RETURNING seq
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $1, x.type, x.at, x.data FROM d,
               unnest($5::text[], $6::text[], $7::timestamptz[], $8::text[])
               AS x (id, type, at, data)
    )
    SELECT seq FROM d";

/// The columns of a list of events, as arrays for `unnest`.
struct EventArrays {
    ids: Vec<String>,
    types: Vec<String>,
    at: Vec<OffsetDateTime>,
    data: Vec<String>,
}

fn event_arrays(events: &[NewEvent]) -> EventArrays {
    EventArrays {
        ids: events.iter().map(|e| e.id.clone()).collect(),
        types: events.iter().map(|e| e.event_type.clone()).collect(),
        at: events.iter().map(|e| e.occurred_at).collect(),
        data: events.iter().map(|e| e.data.to_string()).collect(),
    }
}

/// Appends events to the change log inside a transaction.
async fn insert_events(
    tx: &mut PgConnection,
    tenant: &TenantId,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let a = event_arrays(events);
    sqlx::query(
        "INSERT INTO events (id, tenant_id, type, occurred_at, data)
         SELECT x.id, $1, x.type, x.at, x.data
         FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS x (id, type, at, data)",
    )
    .bind(tenant.as_str())
    .bind(&a.ids)
    .bind(&a.types)
    .bind(&a.at)
    .bind(&a.data)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Inserts a resource and its e-mail rows in one statement, returning its `seq`.
const INSERT_RESOURCE: &str = "WITH r AS (
        INSERT INTO resources (tenant_id, id, kind, name_key, display, external_id, active,
                               created, last_modified, version, data)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq
    ), e AS (
        INSERT INTO emails (resource_seq, tenant_id, value_key)
        SELECT r.seq, $1, v FROM r, unnest($12::text[]) AS v
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $1, x.type, x.at, x.data FROM r,
               unnest($13::text[], $14::text[], $15::timestamptz[], $16::text[])
               AS x (id, type, at, data)
    )
    SELECT seq FROM r";

/// Writes a new state of a resource if its version is still the expected one, in one
/// statement; its e-mail rows are rewritten only when their sorted values (`$13`) differ from
/// the stored ones, as most updates leave e-mails alone. A null `$1` leaves `name_key` as it
/// is (see `PostgresStore::update`). Returns its `seq`, or no row.
const UPDATE_RESOURCE: &str = "WITH r AS (
        UPDATE resources SET name_key = coalesce($1, name_key), display = $2, external_id = $3,
               active = $4,
               last_modified = $5, version = $6, data = $7
        WHERE tenant_id = $8 AND id = $9 AND kind = $10 AND version = $11
        RETURNING seq
    ), same AS (
        SELECT coalesce(array_agg(value_key ORDER BY value_key), '{}') = $13::text[] AS same
        FROM emails WHERE resource_seq IN (SELECT seq FROM r)
    ), d AS (
        DELETE FROM emails WHERE resource_seq IN (SELECT seq FROM r)
          AND NOT (SELECT same FROM same)
    ), e AS (
        INSERT INTO emails (resource_seq, tenant_id, value_key)
        SELECT r.seq, $8, v FROM r, unnest($12::text[]) AS v
        WHERE NOT (SELECT same FROM same)
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $8, x.type, x.at, x.data FROM r,
               unnest($14::text[], $15::text[], $16::timestamptz[], $17::text[])
               AS x (id, type, at, data)
    )
    SELECT seq FROM r";

#[async_trait]
impl Store for PostgresStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query("INSERT INTO tenants (id, name, created_at, settings) VALUES ($1, $2, $3, $4)")
            .bind(tenant.id.as_str())
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .bind(tenant.settings.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn create_first_tenant(&self, tenant: &Tenant) -> Result<bool, StoreError> {
        // Under READ COMMITTED, two transactions could both find the table empty; the
        // advisory lock makes the check and the insert of one process finish before another's
        // check begins.
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FIRST_TENANT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let done = sqlx::query(
            "INSERT INTO tenants (id, name, created_at, settings)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .bind(tenant.settings.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, name, created_at, settings FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT id, name, created_at, settings FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn add_token(&self, token: &TokenRecord, revoke_others: bool) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if revoke_others {
            sqlx::query(
                "UPDATE tokens SET revoked_at = $1
                 WHERE tenant_id = $2 AND revoked_at IS NULL AND client_id IS NULL",
            )
            .bind(token.created_at)
            .bind(token.tenant_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, hash, created_at, name, last4, expires_at, client_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&token.id)
        .bind(token.tenant_id.as_str())
        .bind(&token.hash[..])
        .bind(token.created_at)
        .bind(&token.name)
        .bind(&token.last4)
        .bind(token.expires_at)
        .bind(token.client_id.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn grant(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT t.id, t.name, t.created_at, t.settings, {TOKEN_COLUMNS} FROM tokens k
             JOIN tenants t ON t.id = k.tenant_id
             WHERE k.hash = $1 AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > $2)"
        ))
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|row| {
                Ok(Grant {
                    tenant: tenant_from_row(row)?,
                    token: token_from_row(row)?,
                })
            })
            .transpose()
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens k
             WHERE k.tenant_id = $1 AND k.client_id IS NULL AND k.revoked_at IS NULL
             ORDER BY k.created_at, k.id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3
               AND client_id IS NULL AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn touch_token(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE tokens SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn purge_access_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "DELETE FROM tokens WHERE client_id IS NOT NULL
               AND (expires_at < $1 OR revoked_at < $1)",
        )
        .bind(before)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn remember_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&numbered(roster_store::sql::assertions::REMEMBER))
            .bind(issuer)
            .bind(jti)
            .bind(epoch_millis(expires_at))
            .bind(epoch_millis(now))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_assertions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&numbered(roster_store::sql::assertions::PURGE))
            .bind(epoch_millis(before))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn add_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.id)
        .bind(client.tenant_id.as_str())
        .bind(&client.name)
        .bind(&client.secret_hash[..])
        .bind(client.created_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients
             WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn revoke_client(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_clients SET revoked_at = $1
             WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn set_tenant_settings(&self, id: &TenantId, settings: &Value) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE tenants SET settings = $1 WHERE id = $2")
            .bind(settings.to_string())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn insert_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let ix = indexed(resource);
        // Without members, the events are written by the insert's own statement; with them,
        // after the members, in the same transaction.
        let (inline, after): (&[NewEvent], &[NewEvent]) = if members.is_empty() {
            (events, &[])
        } else {
            (&[], events)
        };
        let a = event_arrays(inline);
        let statement = sqlx::query_scalar::<_, i64>(INSERT_RESOURCE)
            .bind(tenant.as_str())
            .bind(&resource.id)
            .bind(resource.kind.as_str())
            .bind(&ix.name_key)
            .bind(&ix.display)
            .bind(&ix.external_id)
            .bind(ix.active)
            .bind(resource.created)
            .bind(resource.last_modified)
            .bind(resource.version)
            .bind(resource.data.to_string())
            .bind(&ix.emails)
            .bind(&a.ids)
            .bind(&a.types)
            .bind(&a.at)
            .bind(&a.data);
        let conflict = |e: sqlx::Error| {
            if is_unique_violation(&e) {
                StoreError::Conflict(conflict_attribute(resource.kind))
            } else {
                db_err(e)
            }
        };
        if members.is_empty() {
            // One statement, atomic on its own: no transaction's round trips.
            let mut conn = self.conn().await?;
            statement.fetch_one(&mut *conn).await.map_err(conflict)?;
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let seq = statement.fetch_one(&mut *tx).await.map_err(conflict)?;
        add_members(&mut tx, tenant, seq, members).await?;
        insert_events(&mut tx, tenant, after).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<Option<StoredResource>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = $1 AND r.id = $2 AND r.kind = $3",
            columns(kind, with_relations)
        ))
        .bind(tenant.as_str())
        .bind(id)
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let (seq, mut resource) = resource_from_row(&row)?;
        if with_relations && kind == Kind::Group {
            resource.members = Some(members_of(&mut conn, seq).await?);
        }
        Ok(Some(resource))
    }

    async fn update_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update(tenant, resource, expected_version, members, events, None)
            .await
    }

    async fn update_from_recorded(
        &self,
        tenant: &TenantId,
        previous: &StoredResource,
        resource: &StoredResource,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update(
            tenant,
            resource,
            previous.version,
            members,
            events,
            Some(previous),
        )
        .await
    }

    async fn change_members_recorded(
        &self,
        tenant: &TenantId,
        group_id: &str,
        change: &MembersChange,
        expected_version: Option<i64>,
        at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<i64, StoreError> {
        if let MembersChange::Delta { add, remove } = change
            && !add.iter().any(|m| remove.contains(&m.id))
        {
            let (ids, displays) = distinct_members(add);
            let a = event_arrays(events);
            let mut conn = self.conn().await?;
            // A member created or deleted between this statement's reads makes it change
            // nothing (or meet the foreign key); the next attempt sees the member as it is.
            for _ in 0..3 {
                let version: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(CHANGE_MEMBERS)
                    .bind(at)
                    .bind(tenant.as_str())
                    .bind(group_id)
                    .bind(expected_version)
                    .bind(&ids)
                    .bind(&displays)
                    .bind(remove)
                    .bind(&a.ids)
                    .bind(&a.types)
                    .bind(&a.at)
                    .bind(&a.data)
                    .fetch_optional(&mut *conn)
                    .await;
                match version {
                    Ok(Some(version)) => return Ok(version),
                    Ok(None) => {}
                    Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => continue,
                    Err(e) => return Err(db_err(e)),
                }
                // Nothing changed: the group is missing, its version is stale, or a member to
                // add is not in the tenant.
                let group = sqlx::query_scalar::<_, i64>(
                    "SELECT version FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = 'Group'",
                )
                .bind(tenant.as_str())
                .bind(group_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                match (group, expected_version) {
                    (None, _) => return Err(StoreError::NotFound),
                    (Some(v), Some(e)) if v != e => return Err(StoreError::VersionMismatch),
                    _ => {
                        if let Some(id) = first_unknown(&mut conn, tenant, &ids).await? {
                            return Err(StoreError::UnknownMember(id));
                        }
                    }
                }
            }
            return Err(StoreError::Unavailable(
                "the group's members kept changing under this request".into(),
            ));
        }
        let mut tx = self.begin().await?;
        // The group's row is locked until commit: changes of one group's members, from any
        // process, follow one another.
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE resources SET version = version + 1, last_modified = $1
             WHERE tenant_id = $2 AND id = $3 AND kind = 'Group'
               AND ($4::bigint IS NULL OR version = $4)
             RETURNING seq, version",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(group_id)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((seq, version)) = row else {
            return Err(missing_or_stale(&mut tx, tenant, Kind::Group, group_id).await);
        };
        apply_members(&mut tx, tenant, seq, change).await?;
        insert_events(&mut tx, tenant, events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(version)
    }

    async fn delete_recorded(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let a = event_arrays(events);
        let mut conn = self.conn().await?;
        let deleted: Option<i64> = sqlx::query_scalar(DELETE_RESOURCE)
            .bind(tenant.as_str())
            .bind(id)
            .bind(kind.as_str())
            .bind(expected_version)
            .bind(&a.ids)
            .bind(&a.types)
            .bind(&a.at)
            .bind(&a.data)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        match deleted {
            Some(_) => Ok(()),
            None => Err(missing_or_stale(&mut conn, tenant, kind, id).await),
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: Kind,
        schema: &ResourceSchema,
        query: &ListQuery,
    ) -> Result<Page, StoreError> {
        let mut sql = Sql::default();
        let (condition, exact) = match &query.filter {
            None => (None, true),
            Some(f) => match translate(f, kind, schema, &mut sql) {
                Some(t) => (Some(t.sql), t.exact),
                None => (None, false),
            },
        };
        let where_clause = match &condition {
            Some(c) => format!("r.tenant_id = ? AND r.kind = ? AND ({c})"),
            None => "r.tenant_id = ? AND r.kind = ?".to_owned(),
        };
        let order = match &query.sort {
            None => Some("r.seq".to_owned()),
            Some(sort) => sort_column(sort, kind, schema),
        };
        let mut conn = self.conn().await?;
        let mut budget = PageBudget::of(query);
        let mut page = match (exact, order) {
            (true, Some(order)) => {
                let mut resources = Vec::new();
                if query.limit > 0 {
                    // The page's keys first, then its rows: PostgreSQL computes the select
                    // list (a user's groups, the JSON) for the rows OFFSET skips too, so a
                    // deep page would otherwise pay for every row before it.
                    let stmt = numbered(&format!(
                        "SELECT {} FROM resources r JOIN (
                             SELECT r.seq AS page_seq FROM resources r WHERE {where_clause}
                             ORDER BY {order}, r.seq LIMIT {} OFFSET {}
                         ) p ON p.page_seq = r.seq
                         ORDER BY {order}, r.seq",
                        columns(kind, query.with_relations),
                        query.limit.min(i64::MAX as u64),
                        query.offset.min(i64::MAX as u64)
                    ));
                    // Rows are taken from the stream only while the page's budget lasts.
                    let mut rows = Vec::new();
                    {
                        let mut stream = bind_query(sqlx::query(&stmt), tenant, kind, &sql.binds)
                            .fetch(&mut *conn);
                        while let Some(row) = stream.try_next().await.map_err(db_err)? {
                            if !budget.admits(rows.len()) {
                                break;
                            }
                            let data: &str = row.try_get("data").map_err(db_err)?;
                            budget.spend(data.len());
                            rows.push(resource_from_row(&row)?);
                        }
                    }
                    for (seq, mut r) in rows {
                        if query.with_relations && kind == Kind::Group {
                            if !budget.admits(resources.len()) {
                                break;
                            }
                            let members = members_of(&mut conn, seq).await?;
                            budget.spend_members(&members);
                            r.members = Some(members);
                        }
                        resources.push(r);
                    }
                }
                let got = resources.len() as u64;
                // A short page that starts inside the results ends them: its end is the total,
                // and the lookups identity providers make (`userName eq`) need no count. A
                // page cut by its byte budget tells nothing.
                let total = if query.limit > 0
                    && got < query.limit
                    && !budget.cut
                    && (got > 0 || query.offset == 0)
                {
                    query.offset + got
                } else {
                    // Without a filter the total is the sum of the counters kept beside the
                    // rows; a count(*) of a large tenant would walk its index on every page.
                    let count_stmt = match &condition {
                        None => "SELECT coalesce(sum(n), 0)::bigint FROM resource_counts
                                 WHERE tenant_id = $1 AND kind = $2"
                            .to_owned(),
                        Some(_) => numbered(&format!(
                            "SELECT count(*) FROM resources r WHERE {where_clause}"
                        )),
                    };
                    let n: i64 = bind_scalar(sqlx::query_scalar(&count_stmt), tenant, kind, {
                        if condition.is_some() { &sql.binds } else { &[] }
                    })
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                    u64::try_from(n).unwrap_or(0)
                };
                Page { total, resources }
            }
            _ => {
                // The SQL narrows; the protocol crate decides, sorts and pages.
                let stmt = numbered(&format!(
                    "SELECT {} FROM resources r WHERE {where_clause} ORDER BY r.seq",
                    columns(kind, query.with_relations)
                ));
                let found = bind_query(sqlx::query(&stmt), tenant, kind, &sql.binds)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let mut rows = Vec::with_capacity(found.len());
                for row in found {
                    let (seq, mut r) = resource_from_row(&row)?;
                    if kind == Kind::Group {
                        r.members = Some(members_of(&mut conn, seq).await?);
                    }
                    rows.push(r);
                }
                memory_eval::finish(rows, schema, query)
            }
        };
        if !query.with_relations {
            for r in &mut page.resources {
                r.members = None;
                r.groups = None;
            }
        }
        Ok(page)
    }

    async fn groups_of(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<Vec<(String, GroupRef)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT u.id AS user_id, g.id AS group_id, g.display AS group_display
             FROM resources u JOIN members x ON x.member_seq = u.seq
             JOIN resources g ON g.seq = x.group_seq
             WHERE u.tenant_id = $1 AND u.id = ANY($2) ORDER BY g.seq",
        )
        .bind(tenant.as_str())
        .bind(user_ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let display: Option<String> = row.try_get("group_display").map_err(db_err)?;
                Ok((
                    row.try_get("user_id").map_err(db_err)?,
                    GroupRef {
                        id: row.try_get("group_id").map_err(db_err)?,
                        display: display.unwrap_or_default(),
                    },
                ))
            })
            .collect()
    }

    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        let rows = match tenant {
            Some(t) => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE tenant_id = $1 AND position > $2 ORDER BY position LIMIT $3",
            )
            .bind(t.as_str())
            .bind(after)
            .bind(limit),
            None => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE position > $1 ORDER BY position LIMIT $2",
            )
            .bind(after)
            .bind(limit),
        }
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn sequence_events(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let pending: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE position IS NULL)")
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
        if !pending {
            return Ok(0);
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db_err)?;
        // One sequencer at a time, in any process; the others find the work done.
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SEQUENCER_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if !locked {
            return Ok(0);
        }
        let done = sqlx::query(
            "WITH pending AS (
                 SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM
                     (SELECT seq FROM events WHERE position IS NULL ORDER BY seq LIMIT 10000) p
             ), bump AS (
                 UPDATE event_sequencer SET last = last + (SELECT count(*) FROM pending)
                 RETURNING last - (SELECT count(*) FROM pending) AS base
             )
             UPDATE events e SET position = (SELECT base FROM bump) + p.n
             FROM pending p WHERE e.seq = p.seq",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn event_backlog(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE position IS NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        // The oldest events by position, a slice at a time: the log is in time order, so the
        // slices stop where the events are young enough.
        let mut purged = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM events WHERE position IN (SELECT position FROM
                     (SELECT position, occurred_at FROM events WHERE position IS NOT NULL
                      ORDER BY position LIMIT 10000) oldest WHERE occurred_at < $1)",
            )
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected();
            purged += done;
            if done < 10_000 {
                break;
            }
        }
        // Delivery attempts are kept as long as events.
        sqlx::query("DELETE FROM webhook_attempts WHERE at < $1")
            .bind(epoch_millis(before))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(purged)
    }

    async fn add_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query("INSERT INTO api_keys (id, name, hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.id)
            .bind(&key.name)
            .bind(&key.hash[..])
            .bind(key.created_at)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, name, hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT id, name, hash, created_at, revoked_at FROM api_keys
             WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = $1 AND r.kind = $2 AND r.seq > $3
             ORDER BY r.seq LIMIT $4",
            columns(kind, true)
        ))
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(resource_from_row).collect()
    }

    async fn members_after(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Member)>, StoreError> {
        let mut conn = self.conn().await?;
        let group: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = 'Group'",
        )
        .bind(tenant.as_str())
        .bind(group_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(group) = group else {
            return Err(StoreError::NotFound);
        };
        let rows = sqlx::query(
            "SELECT m.seq, m.id, m.kind, coalesce(x.display, m.display) AS display
             FROM members x JOIN resources m ON m.seq = x.member_seq
             WHERE x.group_seq = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3",
        )
        .bind(group)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((row.try_get("seq").map_err(db_err)?, member_from_row(row)?)))
            .collect()
    }

    async fn add_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(&numbered(wh::ADD))
            .bind(&webhook.id)
            .bind(&webhook.url)
            .bind(webhook.tenant_id.as_ref().map(TenantId::as_str))
            .bind(&webhook.secret)
            .bind(webhook.created_at)
            .bind(webhook.allow_link_local)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks ORDER BY created_at, id",
            wh::COLUMNS
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn remove_webhook(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET previous_secret = secret, previous_until = $1, secret = $2
             WHERE id = $3",
        )
        .bind(previous_until)
        .bind(secret)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn redeliver(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let event: Option<(Option<i64>, String)> =
            sqlx::query_as("SELECT position, tenant_id FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let webhook: Option<Option<String>> =
            sqlx::query_scalar("SELECT tenant_id FROM webhooks WHERE id = $1")
                .bind(webhook_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let (Some((Some(position), tenant)), Some(only)) = (event, webhook) else {
            return Err(StoreError::NotFound);
        };
        if only.is_some_and(|t| t != tenant) {
            return Err(StoreError::NotFound);
        }
        sqlx::query(&numbered(wh::RESTART))
            .bind(webhook_id)
            .bind(&tenant)
            .bind(position - 1)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "DELETE FROM webhook_dead_letters
             WHERE webhook_id = $1 AND tenant_id = $2 AND position >= $3",
        )
        .bind(webhook_id)
        .bind(&tenant)
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn claim_streams(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<Stream>, StoreError> {
        {
            let mut conn = self.conn().await?;
            let work: bool = sqlx::query_scalar(&numbered(wh::ANY_WORK))
                .bind(now)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            if !work {
                return Ok(Vec::new());
            }
        }
        let mut tx = self.begin().await?;
        let max: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&numbered(wh::DISCOVER))
            .bind(now)
            .bind(max)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&numbered(wh::SCANNED))
            .bind(max)
            .bind(max)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Streams another process is leasing right now are skipped, not waited for.
        let due: Vec<(String, String)> =
            sqlx::query_as(&numbered(&format!("{} FOR UPDATE SKIP LOCKED", wh::DUE)))
                .bind(now)
                .bind(now)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        let mut leased = Vec::with_capacity(due.len());
        for (webhook, tenant) in due {
            let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(&numbered(wh::LEASE))
                .bind(owner)
                .bind(lease_until)
                .bind(&webhook)
                .bind(&tenant)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if let Some((delivered, attempts, first_failed_at)) = row {
                leased.push((webhook, tenant, delivered, attempts, first_failed_at));
            }
        }
        tx.commit().await.map_err(db_err)?;
        if leased.is_empty() {
            return Ok(Vec::new());
        }
        streams(leased, self.webhooks().await?)
    }

    async fn finish_stream(
        &self,
        owner: &str,
        webhook_id: &str,
        tenant: &TenantId,
        update: &StreamUpdate,
        attempts: &[DeliveryAttempt],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if !attempts.is_empty() {
            let col =
                |f: &dyn Fn(&DeliveryAttempt) -> i64| attempts.iter().map(f).collect::<Vec<_>>();
            sqlx::query(
                "INSERT INTO webhook_attempts (webhook_id, tenant_id, event_id, position, attempt,
                        at, status, error, latency_ms)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                        $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[])",
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.webhook_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.tenant_id.to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.event_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|a| a.position))
            .bind(col(&|a| a.attempt))
            .bind(col(&|a| a.at))
            .bind(attempts.iter().map(|a| a.status).collect::<Vec<_>>())
            .bind(attempts.iter().map(|a| a.error.clone()).collect::<Vec<_>>())
            .bind(col(&|a| a.latency_ms))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let held = sqlx::query(&numbered(wh::FINISH))
            .bind(update.delivered)
            .bind(update.attempts)
            .bind(update.first_failed_at)
            .bind(update.next_attempt_at)
            .bind(webhook_id)
            .bind(tenant.as_str())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
            > 0;
        if let (true, Some(d)) = (held, &update.dead_letter) {
            sqlx::query(&numbered(wh::DEAD))
                .bind(&d.webhook_id)
                .bind(d.tenant_id.as_str())
                .bind(&d.event_id)
                .bind(d.position)
                .bind(d.at)
                .bind(&d.error)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn dead_letters(&self, webhook_id: Option<&str>) -> Result<Vec<DeadLetter>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT webhook_id, tenant_id, event_id, position, at, error FROM webhook_dead_letters
             WHERE $1::text IS NULL OR webhook_id = $1 ORDER BY at, position",
        )
        .bind(webhook_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    webhook_id: r.try_get("webhook_id").map_err(db_err)?,
                    tenant_id: TenantId::new(r.try_get::<String, _>("tenant_id").map_err(db_err)?),
                    event_id: r.try_get("event_id").map_err(db_err)?,
                    position: r.try_get("position").map_err(db_err)?,
                    at: r.try_get("at").map_err(db_err)?,
                    error: r.try_get("error").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn delivery_attempts(
        &self,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT webhook_id, tenant_id, event_id, position, attempt, at, status, error,
                    latency_ms FROM webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(webhook_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryAttempt {
                    webhook_id: r.try_get("webhook_id").map_err(db_err)?,
                    tenant_id: TenantId::new(r.try_get::<String, _>("tenant_id").map_err(db_err)?),
                    event_id: r.try_get("event_id").map_err(db_err)?,
                    position: r.try_get("position").map_err(db_err)?,
                    attempt: r.try_get("attempt").map_err(db_err)?,
                    at: r.try_get("at").map_err(db_err)?,
                    status: r.try_get("status").map_err(db_err)?,
                    error: r.try_get("error").map_err(db_err)?,
                    latency_ms: r.try_get("latency_ms").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let applied: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if applied < latest {
            return Err(StoreError::Unavailable(format!(
                "the database schema is at migration {applied}, this Roster needs {latest}"
            )));
        }
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        PoolStats {
            max: self.pool.options().get_max_connections(),
            in_use: size.saturating_sub(idle),
            idle,
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

/// The advisory lock key of the event sequencer.
const SEQUENCER_LOCK: i64 = 0x524f_5354_4552; // "ROSTER"

/// The advisory lock key under which a first start checks for tenants and creates one.
const FIRST_TENANT_LOCK: i64 = 0x524f_5354_4552_0001;

fn event_from_row(row: &PgRow) -> Result<Event, StoreError> {
    let data: String = row.try_get("data").map_err(db_err)?;
    Ok(Event {
        position: row.try_get("position").map_err(db_err)?,
        id: row.try_get("id").map_err(db_err)?,
        tenant_id: TenantId::new(row.try_get::<String, _>("tenant_id").map_err(db_err)?),
        event_type: row.try_get("type").map_err(db_err)?,
        occurred_at: row.try_get("occurred_at").map_err(db_err)?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Internal(e.to_string()))?,
    })
}

fn api_key_from_row(row: &PgRow) -> Result<ApiKeyRecord, StoreError> {
    let hash: Vec<u8> = row.try_get("hash").map_err(db_err)?;
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(db_err)?,
        name: row.try_get("name").map_err(db_err)?,
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Internal("bad API key hash".into()))?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        revoked_at: row.try_get("revoked_at").map_err(db_err)?,
    })
}

fn webhook_from_row(row: &PgRow) -> Result<WebhookRecord, StoreError> {
    Ok(WebhookRecord {
        id: row.try_get("id").map_err(db_err)?,
        url: row.try_get("url").map_err(db_err)?,
        tenant_id: row
            .try_get::<Option<String>, _>("tenant_id")
            .map_err(db_err)?
            .map(TenantId::new),
        secret: row.try_get("secret").map_err(db_err)?,
        previous_secret: row.try_get("previous_secret").map_err(db_err)?,
        previous_until: row.try_get("previous_until").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        allow_link_local: row.try_get("allow_link_local").map_err(db_err)?,
    })
}

/// The columns [`token_from_row`] reads, from `tokens k`.
const TOKEN_COLUMNS: &str = "k.id AS token_id, k.tenant_id AS token_tenant, k.hash, \
     k.created_at AS token_created, k.name AS token_name, k.last4, k.expires_at, k.last_used_at, \
     k.revoked_at, k.client_id";

fn token_from_row(row: &PgRow) -> Result<TokenRecord, StoreError> {
    let hash: Vec<u8> = row.try_get("hash").map_err(db_err)?;
    Ok(TokenRecord {
        id: row.try_get("token_id").map_err(db_err)?,
        tenant_id: TenantId::new(row.try_get::<String, _>("token_tenant").map_err(db_err)?),
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Internal("bad token hash".into()))?,
        created_at: row.try_get("token_created").map_err(db_err)?,
        name: row.try_get("token_name").map_err(db_err)?,
        last4: row.try_get("last4").map_err(db_err)?,
        expires_at: row.try_get("expires_at").map_err(db_err)?,
        last_used_at: row.try_get("last_used_at").map_err(db_err)?,
        revoked_at: row.try_get("revoked_at").map_err(db_err)?,
        client_id: row.try_get("client_id").map_err(db_err)?,
    })
}

/// The columns [`client_from_row`] reads.
const CLIENT_COLUMNS: &str = "id, tenant_id, name, secret_hash, created_at, revoked_at";

fn client_from_row(row: &PgRow) -> Result<ClientRecord, StoreError> {
    let hash: Vec<u8> = row.try_get("secret_hash").map_err(db_err)?;
    Ok(ClientRecord {
        id: row.try_get("id").map_err(db_err)?,
        tenant_id: TenantId::new(row.try_get::<String, _>("tenant_id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        secret_hash: hash
            .try_into()
            .map_err(|_| StoreError::Internal("bad client secret hash".into()))?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        revoked_at: row.try_get("revoked_at").map_err(db_err)?,
    })
}

fn tenant_from_row(row: &PgRow) -> Result<Tenant, StoreError> {
    let settings: String = row.try_get("settings").map_err(db_err)?;
    Ok(Tenant {
        id: TenantId::new(row.try_get::<String, _>("id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Internal(format!("bad tenant settings: {e}")))?,
    })
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type PgScalar<'q, O> = sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments>;

/// Binds the tenant, the kind and a translated filter's parameters, in placeholder order.
fn bind_query<'q>(
    mut q: PgQuery<'q>,
    tenant: &'q TenantId,
    kind: Kind,
    binds: &'q [Bind],
) -> PgQuery<'q> {
    q = q.bind(tenant.as_str()).bind(kind.as_str());
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Bool(v) => q.bind(*v),
            Bind::Time(t) => q.bind(*t),
        };
    }
    q
}

fn bind_scalar<'q, O>(
    mut q: PgScalar<'q, O>,
    tenant: &'q TenantId,
    kind: Kind,
    binds: &'q [Bind],
) -> PgScalar<'q, O> {
    q = q.bind(tenant.as_str()).bind(kind.as_str());
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Bool(v) => q.bind(*v),
            Bind::Time(t) => q.bind(*t),
        };
    }
    q
}

/// A fresh, empty database on the server at `server_url` (any database URL of it; the
/// database name is replaced), with Roster's schema: what tests and benchmarks start from.
/// Returns its URL.
#[cfg(feature = "testing")]
// A name that no other test run takes: test support, outside the directory's `Secrets`.
#[allow(clippy::disallowed_methods)]
pub async fn scratch_database(server_url: &str) -> Result<String, StoreError> {
    use rand::Rng;
    use sqlx::ConnectOptions;
    let admin = PgConnectOptions::from_str(server_url)
        .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
        .database("postgres");
    let mut conn = admin.connect().await.map_err(db_err)?;
    let name = format!("roster_test_{:016x}", rand::rng().random::<u64>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(db_err)?;
    // The server's URL with the new database's name as its path.
    let base = server_url.split('?').next().unwrap_or(server_url);
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    Ok(format!("{server}/{name}"))
}

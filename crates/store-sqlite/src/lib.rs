//! The SQLite storage backend: one file, WAL mode, one writer thread and a few readers. The
//! writer (`writer`) and the hot reads (`reads`) run through rusqlite where they are called; sqlx
//! runs the migrations, the background checkpoints and the cold reads.
//!
//! SCIM filters become SQL in exactly one function, [`translate`]; what it cannot express is
//! evaluated in memory by the protocol crate over the rows the SQL narrowed down.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use roster_scim::schema::ResourceSchema;
use roster_scim::value::FOLD_VERSION;
use roster_store::sql::webhooks as wh;
use roster_store::sql::{
    Indexed, Sql, conflict_attribute, email_keys, epoch_millis, indexed, name_key, sort_column,
    translate,
};
use roster_store::streams;
use roster_store::{
    ApiKeyRecord, ClientRecord, DeadLetter, DeliveryAttempt, Event, Grant, GroupRef, Kind,
    ListQuery, Member, MemberRef, MembersChange, NewEvent, Page, PageBudget, PoolStats, Store,
    StoreError, StoredResource, Stream, StreamUpdate, Tenant, TenantId, TokenRecord, WebhookRecord,
    memory_eval,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row, SqliteConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod reads;
mod writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
    reader: SqlitePool,
    /// The hot reads' connections (see `reads`).
    readers: reads::Readers,
}

fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Folds again, in one transaction, the keys (`resources.name_key`, `emails.value_key`) that
/// an older `fold_case` wrote, when `key_fold` says they are older than this build's
/// ([`FOLD_VERSION`]). Only keys with a character beyond ASCII can differ: the first fold
/// (simple lowercase) made ASCII keys only of ASCII letters and the Kelvin sign, which the
/// current fold maps to the same letters, so the scan skips every ASCII key.
///
/// Two names that were different under the old fold and are the same under the new one (a
/// user created as "José" in NFC and again in NFD) both keep working: the row whose new key is
/// taken keeps its old key and a warning names both rows; only a rename frees it.
async fn refold_keys(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let mut tx = conn.begin().await.map_err(db_err)?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM key_fold")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if version >= FOLD_VERSION {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT seq, tenant_id, id, kind, name_key, data FROM resources
         WHERE length(CAST(name_key AS BLOB)) <> length(name_key) ORDER BY seq",
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
            "SELECT id FROM resources WHERE tenant_id = ? AND kind = ? AND name_key = ?",
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
        sqlx::query("UPDATE resources SET name_key = ? WHERE seq = ?")
            .bind(&key)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        refolded += 1;
    }
    let with_emails = sqlx::query(
        "SELECT r.seq, r.tenant_id, r.data FROM resources r WHERE r.seq IN
           (SELECT resource_seq FROM emails
            WHERE length(CAST(value_key AS BLOB)) <> length(value_key))",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    for row in &with_emails {
        let seq: i64 = row.try_get("seq").map_err(db_err)?;
        let tenant: String = row.try_get("tenant_id").map_err(db_err)?;
        let keys = email_keys(&stored_json(row.try_get("data").map_err(db_err)?)?);
        sqlx::query("DELETE FROM emails WHERE resource_seq = ?")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for key in keys {
            sqlx::query("INSERT INTO emails (resource_seq, tenant_id, value_key) VALUES (?, ?, ?)")
                .bind(seq)
                .bind(&tenant)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
    }
    sqlx::query("UPDATE key_fold SET version = ?")
        .bind(FOLD_VERSION)
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

/// A rusqlite error as the store reports it: a database another process holds past the busy
/// timeout is unavailable, anything else internal.
fn lite_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Timestamps are stored as fixed-width UTC text, so that text order is time order and a
/// `meta.lastModified gt` filter is an index range scan.
fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The columns [`token_from_row`] reads, from `tokens k`.
const TOKEN_COLUMNS: &str = "k.id AS token_id, k.tenant_id AS token_tenant, k.hash, \
     k.created_at AS token_created, k.name AS token_name, k.last4, k.expires_at, k.last_used_at, \
     k.revoked_at, k.client_id";

fn opt_ts(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    row.try_get::<Option<String>, _>(column)
        .map_err(db_err)?
        .as_deref()
        .map(parse_ts)
        .transpose()
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord, StoreError> {
    let hash: Vec<u8> = row.try_get("hash").map_err(db_err)?;
    Ok(TokenRecord {
        id: row.try_get("token_id").map_err(db_err)?,
        tenant_id: TenantId::new(row.try_get::<String, _>("token_tenant").map_err(db_err)?),
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Internal("bad token hash".into()))?,
        created_at: parse_ts(&row.try_get::<String, _>("token_created").map_err(db_err)?)?,
        name: row.try_get("token_name").map_err(db_err)?,
        last4: row.try_get("last4").map_err(db_err)?,
        expires_at: opt_ts(row, "expires_at")?,
        last_used_at: opt_ts(row, "last_used_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        client_id: row.try_get("client_id").map_err(db_err)?,
    })
}

/// The columns [`client_from_row`] reads.
const CLIENT_COLUMNS: &str = "id, tenant_id, name, secret_hash, created_at, revoked_at";

fn client_from_row(row: &SqliteRow) -> Result<ClientRecord, StoreError> {
    let hash: Vec<u8> = row.try_get("secret_hash").map_err(db_err)?;
    Ok(ClientRecord {
        id: row.try_get("id").map_err(db_err)?,
        tenant_id: TenantId::new(row.try_get::<String, _>("tenant_id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        secret_hash: hash
            .try_into()
            .map_err(|_| StoreError::Internal("bad client secret hash".into()))?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at").map_err(db_err)?)?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

fn parse_ts(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| StoreError::Internal(format!("bad timestamp {s:?}: {e}")))
}

/// Which indexed columns an update leaves as they are stored.
#[derive(Debug, Clone, Copy, Default)]
struct Unchanged {
    name_key: bool,
    external_id: bool,
}

impl Unchanged {
    /// The UPDATE for these columns: it sets the changed ones (bound first, in the order
    /// name_key, external_id), then display, active, last_modified, version and data, and
    /// returns the row's seq and its e-mail keys as they were.
    fn statement(self) -> &'static str {
        macro_rules! update {
            ($set:literal) => {
                concat!(
                    "UPDATE resources SET ",
                    $set,
                    "display = ?, active = ?, last_modified = ?, version = ?, data = ?
                     WHERE tenant_id = ? AND id = ? AND kind = ? AND version = ?
                     RETURNING seq, (SELECT group_concat(value_key, char(31)) FROM
                         (SELECT value_key FROM emails WHERE resource_seq = resources.seq
                          ORDER BY rowid))"
                )
            };
        }
        match (self.name_key, self.external_id) {
            (false, false) => update!("name_key = ?, external_id = ?, "),
            (false, true) => update!("name_key = ?, "),
            (true, false) => update!("external_id = ?, "),
            (true, true) => update!(""),
        }
    }
}

/// A resource as its row is written: indexed columns, timestamps and JSON text, prepared
/// outside the writer.
struct Prepared {
    tenant: TenantId,
    id: String,
    kind: Kind,
    ix: Indexed,
    created: String,
    last_modified: String,
    version: i64,
    data: String,
}

impl Prepared {
    fn of(tenant: &TenantId, resource: &StoredResource) -> Self {
        Prepared {
            tenant: tenant.clone(),
            id: resource.id.clone(),
            kind: resource.kind,
            ix: indexed(resource),
            created: ts(resource.created),
            last_modified: ts(resource.last_modified),
            version: resource.version,
            data: resource.data.to_string(),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://roster.db`) and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode keeps every committed transaction across a crash of the
            // process (the WAL is written before COMMIT returns); only a power loss can lose
            // the last transactions, which FULL would guard against at a large cost.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-8000")
            .pragma("temp_store", "memory")
            // Checkpoints copy the WAL back into the database and sync it, in a task of their
            // own, off the writer's path (see `checkpoints`); the WAL file is cut back to 64 MB
            // whenever it starts over.
            .pragma("journal_size_limit", "67108864")
            // LIKE must honour case: caseExact columns (id, externalId) are compared as they
            // are, and case-insensitive ones are stored and queried lower-cased.
            .pragma("case_sensitive_like", "ON");
        let mut conn = options.connect().await.map_err(db_err)?;
        MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating the database: {e}")))?;
        refold_keys(&mut conn).await?;
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let writer = writer::Writer::start(
            writer::connect(options.get_filename())?,
            restart_wanted.clone(),
        )?;
        // The migrating connection stays on as the checkpointer.
        tokio::spawn(checkpoints(conn, restart_wanted));
        // The cold reads (tokens, tenants, the change log, webhooks): two connections with a
        // small page cache; the hot ones have connections of their own (`reads`).
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            // A SQLite connection is a file handle that does not go stale: pinging it before
            // each use would cost a round trip to its worker thread on every read.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                options
                    .clone()
                    .read_only(true)
                    .pragma("cache_size", "-2000"),
            )
            .await
            .map_err(db_err)?;
        let readers = reads::Readers::open(options.get_filename())?;
        Ok(SqliteStore {
            writer,
            reader,
            readers,
        })
    }

    /// Writes a new state of a resource; `unchanged` names the unique and indexed columns
    /// whose values are known to be as stored, which the statement then leaves alone (an
    /// index entry set to its own value is still deleted and inserted again).
    async fn update_with(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
        unchanged: Unchanged,
    ) -> Result<(), StoreError> {
        // Everything that needs no database is done here, in the request's task (see insert).
        let row = Prepared::of(tenant, resource);
        let members = members.clone();
        let events = writer::event_rows(tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    // The statement also reads the e-mail rows as they are, so that they are
                    // rewritten only when they change, without a statement of its own.
                    let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(11);
                    if !unchanged.name_key {
                        params.push(&row.ix.name_key);
                    }
                    if !unchanged.external_id {
                        params.push(&row.ix.external_id);
                    }
                    let (tenant, kind) = (row.tenant.as_str(), row.kind.as_str());
                    params.extend([
                        &row.ix.display as &dyn rusqlite::ToSql,
                        &row.ix.active,
                        &row.last_modified,
                        &row.version,
                        &row.data,
                        &tenant,
                        &row.id,
                        &kind,
                        &expected_version,
                    ]);
                    let updated = tx.prepare_cached(unchanged.statement()).and_then(|mut q| {
                        q.query_row(params.as_slice(), |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
                        })
                        .optional()
                    });
                    let (seq, existing) = match updated {
                        Ok(Some(found)) => found,
                        Ok(None) => {
                            let exists = query_opt(
                                tx,
                                "SELECT seq FROM resources
                                 WHERE tenant_id = ? AND id = ? AND kind = ?",
                                params![tenant, row.id, kind],
                                |r| r.get::<_, i64>(0),
                            )?;
                            return Err(match exists {
                                Some(_) => StoreError::VersionMismatch,
                                None => StoreError::NotFound,
                            });
                        }
                        Err(e) if is_unique_violation(&e) => {
                            return Err(StoreError::Conflict(conflict_attribute(row.kind)));
                        }
                        Err(e) => return Err(lite_err(e)),
                    };
                    let existing: Vec<String> = existing
                        .map(|e| e.split('\u{1f}').map(str::to_owned).collect())
                        .unwrap_or_default();
                    write_emails(tx, &row.tenant, seq, &row.ix.emails, &existing)?;
                    apply_members(tx, &row.tenant, seq, &members)?;
                    Ok(())
                },
                events,
            )
            .await
    }
}

/// WAL frames (pages) past which the log should start over: 64 MB of 4 KiB pages, the size
/// `journal_size_limit` cuts the file back to.
const WAL_FRAMES_LIMIT: i64 = 16_384;

/// Copies the WAL's committed pages into the database every two seconds, without blocking
/// writers or readers (`PASSIVE`), so that the writer seldom pays for a checkpoint inside a
/// request (its own automatic checkpoint is off). Each pass ends in an fsync of the database
/// file, which delays the writer's next WAL append: every half second, that put a group
/// member add's p99 at 11–22 ms; every two seconds, at 9.5–10.8 ms.
///
/// The WAL starts over only once everything in it has been copied, at the start of a write.
/// Under a write load that never pauses, this task never catches up with the last commit, so
/// past [`WAL_FRAMES_LIMIT`] frames it copies what it can once more and asks the writer to run
/// a `RESTART` checkpoint between two batches: with no write in progress that checkpoint
/// copies the few pages left and the log starts over, bounded. Ends when the checkpoint
/// connection fails (the process is going away).
async fn checkpoints(mut conn: SqliteConnection, restart_wanted: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // (busy, frames in the WAL, frames copied into the database)
        let passive = || sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)");
        let frames = match passive().fetch_one(&mut conn).await {
            Ok((_, frames, _)) => frames,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoints stopped");
                return;
            }
        };
        if frames > WAL_FRAMES_LIMIT {
            if let Err(e) = passive().fetch_one(&mut conn).await {
                tracing::warn!(error = %e, "checkpoints stopped");
                return;
            }
            restart_wanted.store(true, Ordering::Relaxed);
        }
    }
}

fn member_from_row(row: &SqliteRow) -> Result<Member, StoreError> {
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
const RESOURCE_COLUMNS_WITH_GROUPS: &str = "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data,
    (SELECT json_group_array(json_array(id, display)) FROM
        (SELECT g.id AS id, g.display AS display FROM members x JOIN resources g ON g.seq = x.group_seq
         WHERE x.member_seq = r.seq ORDER BY g.seq)) AS groups_json";

fn columns(kind: Kind, with_relations: bool) -> &'static str {
    if with_relations && kind == Kind::User {
        RESOURCE_COLUMNS_WITH_GROUPS
    } else {
        RESOURCE_COLUMNS
    }
}

fn resource_from_row(row: &SqliteRow) -> Result<(i64, StoredResource), StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(db_err);
    reads::build(
        row.try_get("seq").map_err(db_err)?,
        text("id")?,
        &text("kind")?,
        row.try_get("version").map_err(db_err)?,
        &text("created")?,
        &text("last_modified")?,
        &text("data")?,
        // Present only when the statement asked for a user's groups.
        row.try_get::<Option<String>, _>("groups_json")
            .ok()
            .flatten(),
    )
}

/// Inserts the member rows of a group, refusing ids that are not resources of the tenant.
fn add_members(
    tx: &Connection,
    tenant: &TenantId,
    group_seq: i64,
    members: &[MemberRef],
) -> Result<(), StoreError> {
    for MemberRef { id, display } in members {
        // One statement per member: it finds the member in the tenant (no row: an unknown
        // member), and keeps a client's display name only where it differs from the member's
        // own, so that renaming a user still shows in the groups nobody labelled otherwise.
        let done = exec(
            tx,
            "INSERT INTO members (group_seq, member_seq, display)
             SELECT ?, r.seq, CASE WHEN ? IS NULL OR ? = r.display THEN NULL ELSE ? END
             FROM resources r WHERE r.tenant_id = ? AND r.id = ?
             ON CONFLICT (group_seq, member_seq) DO UPDATE
             SET display = coalesce(excluded.display, members.display)",
            params![group_seq, display, display, display, tenant.as_str(), id],
        )?;
        if done == 0 {
            return Err(StoreError::UnknownMember(id.clone()));
        }
    }
    Ok(())
}

/// Applies a change of members to a group's rows.
fn apply_members(
    tx: &Connection,
    tenant: &TenantId,
    group_seq: i64,
    change: &MembersChange,
) -> Result<(), StoreError> {
    match change {
        MembersChange::Keep => {}
        MembersChange::Replace(ids) => {
            exec(
                tx,
                "DELETE FROM members WHERE group_seq = ?",
                params![group_seq],
            )?;
            add_members(tx, tenant, group_seq, ids)?;
        }
        MembersChange::Delta { add, remove } => {
            for id in remove {
                exec(
                    tx,
                    "DELETE FROM members WHERE group_seq = ? AND member_seq =
                       (SELECT seq FROM resources WHERE tenant_id = ? AND id = ?)",
                    params![group_seq, tenant.as_str(), id],
                )?;
            }
            add_members(tx, tenant, group_seq, add)?;
        }
    }
    Ok(())
}

/// Rewrites a resource's e-mail index rows when they differ from `existing` (what the rows
/// hold now, as the statement that changed the resource read them).
fn write_emails(
    tx: &Connection,
    tenant: &TenantId,
    seq: i64,
    emails: &[String],
    existing: &[String],
) -> Result<(), StoreError> {
    // Most updates leave e-mails as they were.
    if existing == emails {
        return Ok(());
    }
    if !existing.is_empty() {
        exec(
            tx,
            "DELETE FROM emails WHERE resource_seq = ?",
            params![seq],
        )?;
    }
    if emails.is_empty() {
        return Ok(());
    }
    // One statement for all of a user's addresses.
    let rows = vec!["(?, ?, ?)"; emails.len()].join(", ");
    let stmt = format!("INSERT INTO emails (resource_seq, tenant_id, value_key) VALUES {rows}");
    let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(emails.len() * 3);
    let tenant = tenant.as_str();
    for e in emails {
        params.extend([&seq as &dyn rusqlite::ToSql, &tenant, e]);
    }
    exec(tx, &stmt, params.as_slice())?;
    Ok(())
}

/// Runs one statement on `conn` (the writer's, inside its transaction); the rows it changed.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut q| q.execute(params))
        .map_err(lite_err)
}

/// Runs a statement that answers with at most one row of interest, and reads it.
fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut q| q.query_row(params, f).optional())
        .map_err(lite_err)
}

fn event_from_row(row: &SqliteRow) -> Result<Event, StoreError> {
    let occurred: String = row.try_get("occurred_at").map_err(db_err)?;
    let data: String = row.try_get("data").map_err(db_err)?;
    Ok(Event {
        position: row.try_get("position").map_err(db_err)?,
        id: row.try_get("id").map_err(db_err)?,
        tenant_id: TenantId::new(row.try_get::<String, _>("tenant_id").map_err(db_err)?),
        event_type: row.try_get("type").map_err(db_err)?,
        occurred_at: parse_ts(&occurred)?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Internal(e.to_string()))?,
    })
}

fn api_key_from_row(row: &SqliteRow) -> Result<ApiKeyRecord, StoreError> {
    let created: String = row.try_get("created_at").map_err(db_err)?;
    let revoked: Option<String> = row.try_get("revoked_at").map_err(db_err)?;
    let hash: Vec<u8> = row.try_get("hash").map_err(db_err)?;
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(db_err)?,
        name: row.try_get("name").map_err(db_err)?,
        hash: hash
            .try_into()
            .map_err(|_| StoreError::Internal("bad API key hash".into()))?,
        created_at: parse_ts(&created)?,
        revoked_at: revoked.as_deref().map(parse_ts).transpose()?,
    })
}

fn webhook_from_row(row: &SqliteRow) -> Result<WebhookRecord, StoreError> {
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

#[async_trait]
impl Store for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let t = tenant.clone();
        let (created, settings) = (ts(t.created_at), t.settings.to_string());
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO tenants (id, name, created_at, settings) VALUES (?, ?, ?, ?)",
                    params![t.id.as_str(), t.name, created, settings],
                )?;
                Ok(())
            })
            .await
    }

    async fn create_first_tenant(&self, tenant: &Tenant) -> Result<bool, StoreError> {
        let t = tenant.clone();
        let (created, settings) = (ts(t.created_at), t.settings.to_string());
        self.writer
            .write(move |tx| {
                // The writer's transaction is IMMEDIATE: no other process writes between the
                // check and the insert.
                let done = exec(
                    tx,
                    "INSERT INTO tenants (id, name, created_at, settings)
                     SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM tenants)",
                    params![t.id.as_str(), t.name, created, settings],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, settings FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at, settings FROM tenants WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn add_token(&self, token: &TokenRecord, revoke_others: bool) -> Result<(), StoreError> {
        let token = token.clone();
        self.writer
            .write(move |tx| {
                let token = &token;
                if revoke_others {
                    exec(
                        tx,
                        "UPDATE tokens SET revoked_at = ?
                         WHERE tenant_id = ? AND revoked_at IS NULL AND client_id IS NULL",
                        params![ts(token.created_at), token.tenant_id.as_str()],
                    )?;
                }
                exec(
                    tx,
                    "INSERT INTO tokens
                       (id, tenant_id, hash, created_at, name, last4, expires_at, client_id)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        token.id,
                        token.tenant_id.as_str(),
                        &token.hash[..],
                        ts(token.created_at),
                        token.name,
                        token.last4,
                        token.expires_at.map(ts),
                        token.client_id.as_deref(),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn grant(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT t.id, t.name, t.created_at, t.settings, {TOKEN_COLUMNS} FROM tokens k
             JOIN tenants t ON t.id = k.tenant_id
             WHERE k.hash = ? AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > ?)"
        ))
        .bind(&hash[..])
        .bind(ts(now))
        .fetch_optional(&self.reader)
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
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens k
             WHERE k.tenant_id = ? AND k.client_id IS NULL AND k.revoked_at IS NULL
             ORDER BY k.created_at, k.id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
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
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ?
                       AND client_id IS NULL AND revoked_at IS NULL",
                    params![ts(at), tenant.as_str(), id],
                )?;
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn touch_token(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "UPDATE tokens SET last_used_at = ?
                     WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                    params![ts(at), id, ts(at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn purge_access_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "DELETE FROM tokens WHERE client_id IS NOT NULL
                       AND (expires_at < ? OR revoked_at < ?)",
                    params![ts(before), ts(before)],
                )?;
                Ok(done as u64)
            })
            .await
    }

    async fn remember_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (issuer, jti) = (issuer.to_owned(), jti.to_owned());
        let (expires_at, now) = (epoch_millis(expires_at), epoch_millis(now));
        self.writer
            .write(move |tx| {
                let changed = exec(
                    tx,
                    roster_store::sql::assertions::REMEMBER,
                    params![issuer, jti, expires_at, now],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    async fn purge_assertions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = epoch_millis(before);
        self.writer
            .write(move |tx| {
                let done = exec(tx, roster_store::sql::assertions::PURGE, params![before])?;
                Ok(done as u64)
            })
            .await
    }

    async fn add_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let client = client.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, created_at)
                     VALUES (?, ?, ?, ?, ?)",
                    params![
                        client.id,
                        client.tenant_id.as_str(),
                        client.name,
                        &client.secret_hash[..],
                        ts(client.created_at),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients
             WHERE tenant_id = ? AND revoked_at IS NULL ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = ? AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
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
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE oauth_clients SET revoked_at = ?
                     WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
                    params![ts(at), tenant.as_str(), id],
                )?;
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
                exec(
                    tx,
                    "UPDATE tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
                    params![ts(at), id],
                )?;
                Ok(())
            })
            .await
    }

    async fn set_tenant_settings(&self, id: &TenantId, settings: &Value) -> Result<(), StoreError> {
        let (id, settings) = (id.clone(), settings.to_string());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE tenants SET settings = ? WHERE id = ?",
                    params![settings, id.as_str()],
                )?;
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn insert_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        // Everything that needs no database is done here, in the request's task: the writer,
        // which every write waits for, only runs statements.
        let row = Prepared::of(tenant, resource);
        let members = members.to_vec();
        let events = writer::event_rows(tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    let inserted = tx
                        .prepare_cached(
                            "INSERT INTO resources (tenant_id, id, kind, name_key, display,
                                 external_id, active, created, last_modified, version, data)
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                        )
                        .and_then(|mut q| {
                            q.query_row(
                                params![
                                    row.tenant.as_str(),
                                    row.id,
                                    row.kind.as_str(),
                                    row.ix.name_key,
                                    row.ix.display,
                                    row.ix.external_id,
                                    row.ix.active,
                                    row.created,
                                    row.last_modified,
                                    row.version,
                                    row.data,
                                ],
                                |r| r.get::<_, i64>(0),
                            )
                        });
                    let seq = match inserted {
                        Ok(seq) => seq,
                        Err(e) if is_unique_violation(&e) => {
                            return Err(StoreError::Conflict(conflict_attribute(row.kind)));
                        }
                        Err(e) => return Err(lite_err(e)),
                    };
                    write_emails(tx, &row.tenant, seq, &row.ix.emails, &[])?;
                    add_members(tx, &row.tenant, seq, &members)?;
                    Ok(())
                },
                events,
            )
            .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<Option<StoredResource>, StoreError> {
        let stmt = format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = ? AND r.id = ? AND r.kind = ?",
            columns(kind, with_relations)
        );
        let params = [
            SqlValue::Text(tenant.as_str().to_owned()),
            SqlValue::Text(id.to_owned()),
            SqlValue::Text(kind.as_str().to_owned()),
        ];
        if with_relations && kind == Kind::Group {
            // A group may have many members: off the runtime's workers.
            return self
                .readers
                .blocking(move |conn| {
                    let Some((seq, mut group)) = reads::resources(conn, &stmt, &params)?.pop()
                    else {
                        return Ok(None);
                    };
                    group.members = Some(reads::members_of(conn, seq)?);
                    Ok(Some(group))
                })
                .await;
        }
        self.readers
            .now(|conn| {
                Ok(reads::resources(conn, &stmt, &params)?
                    .pop()
                    .map(|(_, r)| r))
            })
            .await
    }

    async fn update_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update_with(
            tenant,
            resource,
            expected_version,
            members,
            events,
            Unchanged::default(),
        )
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
        let (before, after) = (indexed(previous), indexed(resource));
        let unchanged = Unchanged {
            name_key: before.name_key == after.name_key,
            external_id: before.external_id == after.external_id,
        };
        self.update_with(
            tenant,
            resource,
            previous.version,
            members,
            events,
            unchanged,
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
        let (tenant, group_id, change) = (tenant.clone(), group_id.to_owned(), change.clone());
        let at = ts(at);
        let events = writer::event_rows(&tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    let row = query_opt(
                        tx,
                        "UPDATE resources SET version = version + 1, last_modified = ?
                         WHERE tenant_id = ? AND id = ? AND kind = 'Group'
                           AND (? IS NULL OR version = ?)
                         RETURNING seq, version",
                        params![
                            at,
                            tenant.as_str(),
                            group_id,
                            expected_version,
                            expected_version
                        ],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )?;
                    let Some((seq, version)) = row else {
                        let exists = query_opt(
                            tx,
                            "SELECT seq FROM resources
                             WHERE tenant_id = ? AND id = ? AND kind = 'Group'",
                            params![tenant.as_str(), group_id],
                            |r| r.get::<_, i64>(0),
                        )?;
                        return Err(match exists {
                            Some(_) => StoreError::VersionMismatch,
                            None => StoreError::NotFound,
                        });
                    };
                    apply_members(tx, &tenant, seq, &change)?;
                    Ok(version)
                },
                events,
            )
            .await
    }

    async fn delete_recorded(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        let events = writer::event_rows(&tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    let version = query_opt(
                        tx,
                        "SELECT version FROM resources WHERE tenant_id = ? AND id = ? AND kind = ?",
                        params![tenant.as_str(), id, kind.as_str()],
                        |r| r.get::<_, i64>(0),
                    )?;
                    match (version, expected_version) {
                        (None, _) => return Err(StoreError::NotFound),
                        (Some(v), Some(e)) if v != e => return Err(StoreError::VersionMismatch),
                        _ => {}
                    }
                    // Memberships and e-mail rows go with the resource (ON DELETE CASCADE).
                    exec(
                        tx,
                        "DELETE FROM resources WHERE tenant_id = ? AND id = ? AND kind = ?",
                        params![tenant.as_str(), id, kind.as_str()],
                    )?;
                    Ok(())
                },
                events,
            )
            .await
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
        let mut params = vec![
            SqlValue::Text(tenant.as_str().to_owned()),
            SqlValue::Text(kind.as_str().to_owned()),
        ];
        params.extend(sql.binds.iter().map(reads::value));
        let with_members = query.with_relations && kind == Kind::Group;
        let mut page = match (exact, order) {
            (true, Some(order)) => {
                let (limit, offset) = (query.limit, query.offset);
                let stmt = format!(
                    "SELECT {} FROM resources r WHERE {where_clause}
                     ORDER BY {order}, r.seq LIMIT {} OFFSET {}",
                    columns(kind, query.with_relations),
                    limit.min(i64::MAX as u64),
                    offset.min(i64::MAX as u64)
                );
                // Without a filter the total is a counter kept beside the rows; a count(*)
                // of a large tenant would walk its whole index on every page.
                let count_stmt = match &condition {
                    None => "SELECT coalesce((SELECT n FROM resource_counts r
                              WHERE r.tenant_id = ? AND r.kind = ?), 0)"
                        .to_owned(),
                    Some(_) => format!("SELECT count(*) FROM resources r WHERE {where_clause}"),
                };
                let mut budget = PageBudget::of(query);
                let read = move |conn: &rusqlite::Connection| -> Result<Page, StoreError> {
                    let mut resources = Vec::new();
                    if limit > 0 {
                        let rows = reads::resources_within(
                            conn,
                            &stmt,
                            &params,
                            &mut budget,
                            |seq, r| {
                                if with_members {
                                    r.members = Some(reads::members_of(conn, seq)?);
                                }
                                Ok(())
                            },
                        )?;
                        resources.extend(rows.into_iter().map(|(_, r)| r));
                    }
                    let got = resources.len() as u64;
                    // A short page that starts inside the results ends them: its end is the
                    // total, and the lookups identity providers make (`userName eq`) need no
                    // count. A page cut by its byte budget tells nothing.
                    let total =
                        if limit > 0 && got < limit && !budget.cut && (got > 0 || offset == 0) {
                            offset + got
                        } else {
                            let n: i64 = conn
                                .prepare_cached(&count_stmt)
                                .and_then(|mut q| {
                                    q.query_row(rusqlite::params_from_iter(&params), |row| {
                                        row.get(0)
                                    })
                                })
                                .map_err(lite_err)?;
                            u64::try_from(n).unwrap_or(0)
                        };
                    Ok(Page { total, resources })
                };
                // A page of users is bounded by its LIMIT; a page of groups with their members,
                // or one far into the results, is read off the runtime's workers.
                if with_members || offset > 1_000 {
                    self.readers.blocking(read).await?
                } else {
                    self.readers.now(read).await?
                }
            }
            _ => {
                // The SQL narrows; the protocol crate decides, sorts and pages.
                let stmt = format!(
                    "SELECT {} FROM resources r WHERE {where_clause} ORDER BY r.seq",
                    columns(kind, query.with_relations)
                );
                let needs_members = kind == Kind::Group;
                let rows = self
                    .readers
                    .blocking(move |conn| {
                        let mut rows = Vec::new();
                        for (seq, mut r) in reads::resources(conn, &stmt, &params)? {
                            if needs_members {
                                r.members = Some(reads::members_of(conn, seq)?);
                            }
                            rows.push(r);
                        }
                        Ok(rows)
                    })
                    .await?;
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
        let tenant = tenant.as_str();
        self.readers
            .now(|conn| {
                let mut out = Vec::new();
                for chunk in user_ids.chunks(200) {
                    let placeholders = vec!["?"; chunk.len()].join(",");
                    let stmt = format!(
                        "SELECT u.id, g.id, g.display
                         FROM resources u JOIN members x ON x.member_seq = u.seq
                         JOIN resources g ON g.seq = x.group_seq
                         WHERE u.tenant_id = ? AND u.id IN ({placeholders}) ORDER BY g.seq"
                    );
                    let mut q = conn.prepare_cached(&stmt).map_err(lite_err)?;
                    let params = std::iter::once(tenant).chain(chunk.iter().map(String::as_str));
                    let rows = q
                        .query_map(rusqlite::params_from_iter(params), |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                GroupRef {
                                    id: row.get(1)?,
                                    display: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                                },
                            ))
                        })
                        .map_err(lite_err)?;
                    for row in rows {
                        out.push(row.map_err(lite_err)?);
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match tenant {
            Some(t) => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE tenant_id = ? AND position > ? ORDER BY position LIMIT ?",
            )
            .bind(t.as_str())
            .bind(after)
            .bind(limit),
            None => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE position > ? ORDER BY position LIMIT ?",
            )
            .bind(after)
            .bind(limit),
        }
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| {
                // The oldest events by position, a slice at a time: the log is in time order,
                // so the slices stop where the events are young enough.
                let mut purged = 0;
                loop {
                    let done = exec(
                        tx,
                        "DELETE FROM events WHERE position IN (SELECT position FROM
                             (SELECT position, occurred_at FROM events ORDER BY position
                              LIMIT 10000) WHERE occurred_at < ?)",
                        params![ts(before)],
                    )? as u64;
                    purged += done;
                    if done < 10_000 {
                        break;
                    }
                }
                // Delivery attempts are kept as long as events.
                exec(
                    tx,
                    "DELETE FROM webhook_attempts WHERE at < ?",
                    params![epoch_millis(before)],
                )?;
                Ok(purged)
            })
            .await
    }

    async fn add_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let key = key.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO api_keys (id, name, hash, created_at) VALUES (?, ?, ?, ?)",
                    params![key.id, key.name, &key.hash[..], ts(key.created_at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, hash, created_at, revoked_at FROM api_keys
             WHERE hash = ? AND revoked_at IS NULL",
        )
        .bind(&hash[..])
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    params![ts(at), id],
                )?;
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = ? AND r.kind = ? AND r.seq > ?
             ORDER BY r.seq LIMIT ?",
            columns(kind, true)
        ))
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
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
        let group: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM resources WHERE tenant_id = ? AND id = ? AND kind = 'Group'",
        )
        .bind(tenant.as_str())
        .bind(group_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let Some(group) = group else {
            return Err(StoreError::NotFound);
        };
        let rows = sqlx::query(
            "SELECT m.seq, m.id, m.kind, coalesce(x.display, m.display) AS display
             FROM members x JOIN resources m ON m.seq = x.member_seq
             WHERE x.group_seq = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
        )
        .bind(group)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((row.try_get("seq").map_err(db_err)?, member_from_row(row)?)))
            .collect()
    }

    async fn add_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        let w = webhook.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    wh::ADD,
                    params![
                        w.id,
                        w.url,
                        w.tenant_id.as_ref().map(TenantId::as_str),
                        w.secret,
                        w.created_at,
                        w.allow_link_local,
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks ORDER BY created_at, id",
            wh::COLUMNS
        ))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn remove_webhook(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                if exec(tx, "DELETE FROM webhooks WHERE id = ?", params![id])? == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<(), StoreError> {
        let (id, secret) = (id.to_owned(), secret.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE webhooks SET previous_secret = secret, previous_until = ?,
                            secret = ? WHERE id = ?",
                    params![previous_until, secret, id],
                )?;
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn redeliver(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let (webhook_id, event_id) = (webhook_id.to_owned(), event_id.to_owned());
        self.writer
            .write(move |tx| {
                let event = query_opt(
                    tx,
                    "SELECT position, tenant_id FROM events WHERE id = ?",
                    params![event_id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )?;
                let webhook = query_opt(
                    tx,
                    "SELECT tenant_id FROM webhooks WHERE id = ?",
                    params![webhook_id],
                    |r| r.get::<_, Option<String>>(0),
                )?;
                let (Some((position, tenant)), Some(only)) = (event, webhook) else {
                    return Err(StoreError::NotFound);
                };
                if only.is_some_and(|t| t != tenant) {
                    return Err(StoreError::NotFound);
                }
                exec(
                    tx,
                    wh::RESTART,
                    params![webhook_id, tenant, position - 1, now],
                )?;
                exec(
                    tx,
                    "DELETE FROM webhook_dead_letters
                     WHERE webhook_id = ? AND tenant_id = ? AND position >= ?",
                    params![webhook_id, tenant, position],
                )?;
                Ok(())
            })
            .await
    }

    async fn claim_streams(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<Stream>, StoreError> {
        let work: bool = sqlx::query_scalar(wh::ANY_WORK)
            .bind(now)
            .bind(now)
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        if !work {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        let leased: Vec<(String, String, i64, i64, Option<i64>)> = self
            .writer
            .write(move |tx| {
                let max = query_opt(
                    tx,
                    "SELECT coalesce(max(position), 0) FROM events",
                    [],
                    |r| r.get::<_, i64>(0),
                )?
                .unwrap_or(0);
                exec(tx, wh::DISCOVER, params![now, max])?;
                exec(tx, wh::SCANNED, params![max, max])?;
                let due: Vec<(String, String)> = tx
                    .prepare_cached(wh::DUE)
                    .and_then(|mut q| {
                        q.query_map(
                            params![now, now, i64::try_from(limit).unwrap_or(i64::MAX)],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )?
                        .collect()
                    })
                    .map_err(lite_err)?;
                let mut leased = Vec::with_capacity(due.len());
                for (webhook, tenant) in due {
                    let row = query_opt(
                        tx,
                        wh::LEASE,
                        params![owner, lease_until, webhook, tenant, now],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get(2)?)),
                    )?;
                    if let Some((delivered, attempts, first_failed_at)) = row {
                        leased.push((webhook, tenant, delivered, attempts, first_failed_at));
                    }
                }
                Ok(leased)
            })
            .await?;
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
        let (owner, webhook_id, tenant) = (owner.to_owned(), webhook_id.to_owned(), tenant.clone());
        let (update, attempts) = (update.clone(), attempts.to_vec());
        self.writer
            .write(move |tx| {
                for a in &attempts {
                    exec(
                        tx,
                        wh::ATTEMPT,
                        params![
                            a.webhook_id,
                            a.tenant_id.as_str(),
                            a.event_id,
                            a.position,
                            a.attempt,
                            a.at,
                            a.status,
                            a.error,
                            a.latency_ms,
                        ],
                    )?;
                }
                let held = exec(
                    tx,
                    wh::FINISH,
                    params![
                        update.delivered,
                        update.attempts,
                        update.first_failed_at,
                        update.next_attempt_at,
                        webhook_id,
                        tenant.as_str(),
                        owner,
                    ],
                )? > 0;
                if let (true, Some(d)) = (held, &update.dead_letter) {
                    exec(
                        tx,
                        wh::DEAD,
                        params![
                            d.webhook_id,
                            d.tenant_id.as_str(),
                            d.event_id,
                            d.position,
                            d.at,
                            d.error,
                        ],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn dead_letters(&self, webhook_id: Option<&str>) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT webhook_id, tenant_id, event_id, position, at, error FROM webhook_dead_letters
             WHERE ? IS NULL OR webhook_id = ? ORDER BY at, position",
        )
        .bind(webhook_id)
        .bind(webhook_id)
        .fetch_all(&self.reader)
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
        let rows = sqlx::query(
            "SELECT webhook_id, tenant_id, event_id, position, attempt, at, status, error,
                    latency_ms FROM webhook_attempts WHERE webhook_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(webhook_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.reader)
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
        let applied: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.reader)
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
        let size = self.reader.size();
        let idle = u32::try_from(self.reader.num_idle()).unwrap_or(u32::MAX);
        PoolStats {
            max: self.reader.options().get_max_connections(),
            in_use: size.saturating_sub(idle),
            idle,
            waiting: self.writer.queued(),
        }
    }
}

fn tenant_from_row(row: &SqliteRow) -> Result<Tenant, StoreError> {
    let created: String = row.try_get("created_at").map_err(db_err)?;
    let settings: String = row.try_get("settings").map_err(db_err)?;
    Ok(Tenant {
        id: TenantId::new(row.try_get::<String, _>("id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        created_at: parse_ts(&created)?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Internal(format!("bad tenant settings: {e}")))?,
    })
}

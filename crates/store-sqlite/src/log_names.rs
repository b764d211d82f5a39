//! The provisioning log's entries by resource on SQLite: each entry carries its resource's
//! number (`rid`), a hash of the tenant and the resource's id (or name), and
//! `provisioning_log_rids` holds, for each entry that has one, its era ([`ERA_SHIFT`]), that
//! number and its `seq`. The names each number was seen with are noted in
//! `provisioning_log_names`, so that a page about a name finds the entries that carry only the
//! id. A busy log would insert into a key on the number alone at random places, each a page
//! written to the WAL and copied back; by era first, a batch's entries land in the few pages of
//! the current era's part. A walk seeks the number in each era, newest first (a log of a
//! million entries has 123 eras).
//!
//! [`Noted`] remembers which names are noted (those the file held when the store opened, and
//! those this process noted since), so that most batches run no statement for them at all.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use roster_store::sql::provisioning_log::{self as log, PURGE_CHUNK};
use roster_store::{StoreError, TenantId};
use rusqlite::params;
use sha2::{Digest, Sha256};

use crate::lite_err;

/// The most names [`Noted`] remembers; past it, it starts over.
const NOTED_MAX: usize = 200_000;

/// The names this process has seen committed to `provisioning_log_names` or loaded from it
/// when the store opened ([`Noted::load`]), as fingerprints of (tenant, name, number): a batch
/// skips the statement for them. A name is forgotten before it is deleted (by the purge, in the
/// transaction that deletes it; all of them before a tenant's are), so that it never claims a
/// name the table lacks.
/// Two names with one 64-bit fingerprint (about one chance in 10^10 at its fullest) would
/// leave the second unnoted: its entries would still be found by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Noted(Arc<Mutex<HashSet<u64>>>);

impl Noted {
    fn fingerprint(tenant: &str, key: &str, rid: i64) -> u64 {
        let mut h = DefaultHasher::new();
        (tenant, key, rid).hash(&mut h);
        h.finish()
    }

    fn knows(&self, fingerprint: u64) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&fingerprint)
    }

    /// Remembers names a committed batch noted.
    pub(crate) fn learn(&self, fingerprints: Vec<u64>) {
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() + fingerprints.len() > NOTED_MAX {
            known.clear();
        }
        known.extend(fingerprints);
    }

    /// Remembers the names the log's file holds (at most [`NOTED_MAX`]), when the store
    /// opens: otherwise a restarted process would note again every name its first requests
    /// carry (an identity provider's next cycle through all its users: one insert per user).
    pub(crate) fn load(&self, conn: &rusqlite::Connection) -> Result<(), StoreError> {
        let mut select = conn
            .prepare("SELECT tenant_id, key, rid FROM provisioning_log_names LIMIT ?")
            .map_err(lite_err)?;
        let limit = i64::try_from(NOTED_MAX).unwrap_or(i64::MAX);
        let fingerprints = select
            .query_map([limit], |r| {
                let tenant = r.get_ref(0)?.as_str()?;
                let key = r.get_ref(1)?.as_str()?;
                Ok(Noted::fingerprint(tenant, key, r.get(2)?))
            })
            .map_err(lite_err)?
            .collect::<Result<Vec<u64>, _>>()
            .map_err(lite_err)?;
        self.learn(fingerprints);
        Ok(())
    }

    /// Forgets one name, before it is deleted (inside the transaction that deletes it: the
    /// log writer runs one transaction at a time, so no batch sees it known and deleted).
    fn unlearn(&self, tenant: &str, key: &str, rid: i64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&Noted::fingerprint(tenant, key, rid));
    }

    /// Forgets every name, before a tenant's names are deleted.
    pub(crate) fn forget(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// The names one transaction notes: each (tenant, name, number) of an entry that has both a
/// name and an id, once, but those [`Noted`] knows.
pub(crate) struct Names<'a> {
    note: rusqlite::CachedStatement<'a>,
    noted: &'a Noted,
    seen: HashSet<u64>,
}

impl<'a> Names<'a> {
    pub(crate) fn new(tx: &'a rusqlite::Connection, noted: &'a Noted) -> Result<Self, StoreError> {
        Ok(Names {
            note: tx.prepare_cached(NOTE_NAME).map_err(lite_err)?,
            noted,
            seen: HashSet::new(),
        })
    }

    /// Notes the name `key` of an entry about `id`, numbered `rid`, when it has both.
    pub(crate) fn note(
        &mut self,
        tenant: &str,
        id: &str,
        key: &str,
        rid: Option<i64>,
    ) -> Result<(), StoreError> {
        let Some(rid) = rid.filter(|_| !id.is_empty() && !key.is_empty()) else {
            return Ok(());
        };
        let fingerprint = Noted::fingerprint(tenant, key, rid);
        if !self.noted.knows(fingerprint) && self.seen.insert(fingerprint) {
            self.note
                .execute(params![tenant, key, rid])
                .map_err(lite_err)?;
        }
        Ok(())
    }

    /// The fingerprints to remember once the transaction commits.
    pub(crate) fn learnt(self) -> Vec<u64> {
        self.seen.into_iter().collect()
    }
}

/// How far a `seq` is shifted for its era, the leading key of `provisioning_log_rids`:
/// 8,192 entries.
pub(crate) const ERA_SHIFT: i64 = 13;

/// Whether any entry carries a resource number (the purge's look before it deletes a name):
/// one seek of the number per era, newest first.
const CARRIED: &str = "SELECT 1 FROM provisioning_log_rids
    WHERE era IN (WITH RECURSIVE era(n) AS (
            SELECT (SELECT max(era) FROM provisioning_log_rids)
            UNION ALL
            SELECT n - 1 FROM era WHERE n > (SELECT min(era) FROM provisioning_log_rids))
        SELECT n FROM era)
      AND rid = ?";

/// Notes that a resource number carried a name (ignored when already noted).
const NOTE_NAME: &str =
    "INSERT OR IGNORE INTO provisioning_log_names (tenant_id, key, rid) VALUES (?, ?, ?)";

/// The number of the resource an entry is about, which the index of a page about one resource
/// ranges over: a hash of the tenant and the resource's id, or of its (lower-cased) name when
/// the entry has no id (a refused creation); none when the entry is about no resource.
/// Entries of several resources may share a number (the hash collides, or one name is given
/// to another resource later): a page checks each entry's own id and name.
pub(crate) fn rid(tenant: &str, id: &str, key: &str) -> Option<i64> {
    let (kind, value) = match (id, key) {
        ("", "") => return None,
        ("", key) => (b'n', key),
        (id, _) => (b'i', id),
    };
    let mut hash = Sha256::new();
    hash.update(tenant.as_bytes());
    hash.update([0, kind, 0]);
    hash.update(value.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Some(i64::from_be_bytes(first))
}

/// The log file's version once every entry has its resource number.
const NUMBERED: i64 = 1;

/// Gives their resource numbers to the entries written before the log had them (a log file of
/// an earlier version, or entries moved from the main file), once, on the log writer's
/// connection at start.
pub(crate) fn number_entries(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(lite_err)?;
    if version >= NUMBERED {
        return Ok(());
    }
    let tx = conn.unchecked_transaction().map_err(lite_err)?;
    let unnumbered: Vec<(i64, String, String, String)> = {
        let mut select = tx
            .prepare(
                "SELECT seq, tenant_id, resource_id, resource_key FROM provisioning_log
                 WHERE rid IS NULL AND (resource_id <> '' OR resource_key <> '')",
            )
            .map_err(lite_err)?;
        let rows = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(lite_err)?;
        rows.collect::<Result<_, _>>().map_err(lite_err)?
    };
    {
        let mut update = tx
            .prepare("UPDATE provisioning_log SET rid = ? WHERE seq = ?")
            .map_err(lite_err)?;
        let nothing_noted = Noted::default();
        let mut names = Names::new(&tx, &nothing_noted)?;
        for (seq, tenant, id, key) in &unnumbered {
            let rid = rid(tenant, id, key);
            update.execute(params![rid, seq]).map_err(lite_err)?;
            names.note(tenant, id, key, rid)?;
        }
    }
    tx.execute_batch(&format!("PRAGMA user_version = {NUMBERED}"))
        .map_err(lite_err)?;
    tx.commit().map_err(lite_err)?;
    if !unnumbered.is_empty() {
        tracing::info!(
            entries = unnumbered.len(),
            "numbered the provisioning log's entries by resource"
        );
    }
    Ok(())
}

/// The resource numbers the entries about `resource` (a name or an id) may carry: its id's,
/// its name's, and those of the ids that name was seen with. A page checks each entry's own id
/// and name.
pub(crate) fn rids(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    resource: &str,
) -> Result<Vec<i64>, StoreError> {
    let key = log::resource_key(resource);
    let mut rids: Vec<i64> = [
        rid(tenant.as_str(), resource, ""),
        rid(tenant.as_str(), "", &key),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut named = conn
        .prepare_cached("SELECT rid FROM provisioning_log_names WHERE tenant_id = ? AND key = ?")
        .map_err(lite_err)?;
    let seen = named
        .query_map(params![tenant.as_str(), key], |r| r.get::<_, i64>(0))
        .map_err(lite_err)?;
    for rid in seen {
        rids.push(rid.map_err(lite_err)?);
    }
    rids.sort_unstable();
    rids.dedup();
    Ok(rids)
}

/// A noted name's key: tenant, name, resource number.
pub(crate) type NoteKey = (String, String, i64);

/// Deletes one tenant's noted names, a chunk at a time. Binds: tenant, [`PURGE_CHUNK`].
pub(crate) const PURGE_TENANT_NAMES: &str = "DELETE FROM provisioning_log_names
    WHERE (tenant_id, key, rid) IN
        (SELECT tenant_id, key, rid FROM provisioning_log_names WHERE tenant_id = ? LIMIT ?)";

/// Looks at the next [`PURGE_CHUNK`] noted names after `after` and deletes those whose number
/// no entry carries, forgetting each in `noted` first (the others stay known, so that the
/// batches after a purge do not note every name again): the last name looked at (none when
/// there were no more), and how many were deleted.
pub(crate) fn purge_names_after(
    tx: &rusqlite::Connection,
    after: Option<&NoteKey>,
    noted: &Noted,
) -> Result<(Option<NoteKey>, usize), StoreError> {
    let (tenant, key, rid) = after
        .cloned()
        .unwrap_or((String::new(), String::new(), i64::MIN));
    let names: Vec<NoteKey> = {
        let mut next = tx
            .prepare_cached(
                "SELECT tenant_id, key, rid FROM provisioning_log_names
                 WHERE (tenant_id, key, rid) > (?, ?, ?)
                 ORDER BY tenant_id, key, rid LIMIT ?",
            )
            .map_err(lite_err)?;
        let rows = next
            .query_map(params![tenant, key, rid, PURGE_CHUNK], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(lite_err)?;
        rows.collect::<Result<_, _>>().map_err(lite_err)?
    };
    let mut carried = tx.prepare_cached(CARRIED).map_err(lite_err)?;
    let mut delete = tx
        .prepare_cached(
            "DELETE FROM provisioning_log_names WHERE tenant_id = ? AND key = ? AND rid = ?",
        )
        .map_err(lite_err)?;
    let mut deleted = 0;
    for (tenant, key, rid) in &names {
        if !carried.exists([rid]).map_err(lite_err)? {
            noted.unlearn(tenant, key, *rid);
            deleted += delete
                .execute(params![tenant, key, rid])
                .map_err(lite_err)?;
        }
    }
    Ok((names.last().cloned(), deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purge's look for a number seeks it era by era in the table's key, never a scan.
    #[test]
    fn the_look_for_a_number_seeks_each_era() {
        let conn = rusqlite::Connection::open_in_memory().expect("a database");
        crate::connect::create_log_schema(&conn, "").expect("the log's schema");
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {CARRIED}"))
            .expect("a plan");
        let plan: Vec<String> = explain
            .query_map([7], |r| r.get::<_, String>(3))
            .expect("planning")
            .map(|r| r.expect("a line"))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("SEARCH provisioning_log_rids USING PRIMARY KEY (era=? AND rid=?)"),
            "{plan}"
        );
    }
}

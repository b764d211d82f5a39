//! The server key: where a process finds it (`ROSTER_SECRET_KEY`, or on SQLite a key file
//! beside the database, created with mode 0600 on first use) and `roster key generate|rotate`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use roster_directory::sealing::{Keyring, ServerKey};
use roster_directory::{Directory, Secrets};

use crate::startup::sqlite_file;

/// The environment variable that holds the server key (the current one, then any previous
/// ones during a rotation, comma-separated).
pub const KEY_VARIABLE: &str = "ROSTER_SECRET_KEY";

/// The key file of a SQLite database: `roster.db` → `roster.db.key`.
pub fn key_file(database_url: &str) -> Option<PathBuf> {
    sqlite_file(database_url).map(|f| PathBuf::from(format!("{f}.key")))
}

/// Where this process's keys come from.
pub enum KeySource {
    /// `ROSTER_SECRET_KEY`.
    Environment,
    /// A key file beside the SQLite database.
    File(PathBuf),
    /// None: PostgreSQL without `ROSTER_SECRET_KEY`.
    Missing,
}

/// The keys of this process: from `ROSTER_SECRET_KEY` when set, else, on SQLite, from the key
/// file (created when `may_create`), else none.
pub fn load(
    database_url: &str,
    may_create: bool,
    secrets: &dyn Secrets,
) -> Result<(Option<Keyring>, KeySource)> {
    if let Ok(text) = std::env::var(KEY_VARIABLE) {
        let ring = Keyring::parse(&text).with_context(|| format!("reading {KEY_VARIABLE}"))?;
        return Ok((Some(ring), KeySource::Environment));
    }
    let Some(file) = key_file(database_url) else {
        return Ok((None, KeySource::Missing));
    };
    if file.exists() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading the server key file {}", file.display()))?;
        let ring = Keyring::parse(&text)
            .with_context(|| format!("reading the server key file {}", file.display()))?;
        return Ok((Some(ring), KeySource::File(file)));
    }
    if !may_create && !Path::new(sqlite_file(database_url).unwrap_or_default()).exists() {
        return Ok((None, KeySource::Missing));
    }
    let key = ServerKey::generate(secrets);
    write_key_file(&file, &key.to_text())?;
    tracing::info!(file = %file.display(), key = %key.id(), "created the server key file; back it up with the database, apart from it");
    Ok((Some(Keyring::new(key)), KeySource::File(file)))
}

/// Writes a key file readable by its owner only (created new, or replaced whole).
fn write_key_file(file: &Path, text: &str) -> Result<()> {
    let partial = file.with_extension("key.new");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options
            .open(&partial)
            .with_context(|| format!("writing the server key file {}", partial.display()))?;
        writeln!(out, "{text}")?;
        out.sync_all()?;
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("writing the server key file {}", file.display()))?;
    Ok(())
}

/// `roster key generate`: a new key, printed, stored nowhere.
pub fn generate(secrets: &dyn Secrets) {
    let key = ServerKey::generate(secrets);
    println!("{}", key.to_text());
    eprintln!(
        "(server key {}: set it as {KEY_VARIABLE} on every Roster process of this database, \
         and keep a copy apart from the database's backups)",
        key.id()
    );
}

/// `roster key rotate`: every sealed token sealed again with the current key. With a key
/// file, a new key is made first and the file holds only it afterwards; with
/// `ROSTER_SECRET_KEY=NEW,OLD`, the tokens move to NEW.
pub async fn rotate(
    directory: Directory,
    source: KeySource,
    current: Option<Keyring>,
    secrets: &dyn Secrets,
) -> Result<()> {
    match source {
        KeySource::Missing => bail!(
            "there is no server key to rotate: set {KEY_VARIABLE} (roster key generate makes one)"
        ),
        KeySource::Environment => {
            let ring = current.context("no key")?;
            let id = ring.current().id();
            let n = directory.with_keyring(ring).reseal().await?;
            println!(
                "Sealed {n} secrets again (tokens, two-step and sign-in keys) with server key {id}. Set {KEY_VARIABLE} to that key \
                 alone on every process once all of them run with it."
            );
        }
        KeySource::File(file) => {
            let old = current.context("no key")?;
            let new = ServerKey::generate(secrets);
            let both = format!("{},{}", new.to_text(), old.to_text());
            let ring = Keyring::parse(&both)?;
            // The file holds both keys while the tokens move, so a crash in between loses
            // nothing; then only the new one.
            write_key_file(&file, &both)?;
            let n = directory.with_keyring(ring).reseal().await?;
            write_key_file(&file, &new.to_text())?;
            println!(
                "Sealed {n} secrets again (tokens, two-step and sign-in keys) with the new server key {} (in {}). Restart roster \
                 serve so that it reads the new key.",
                new.id(),
                file.display()
            );
        }
    }
    Ok(())
}

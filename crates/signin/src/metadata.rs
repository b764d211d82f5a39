//! SAML metadata read from the identity provider's URL (Entra's *App Federation Metadata
//! Url*, Okta's and OneLogin's metadata links): when a connection is made from it, and again
//! every day, so that a certificate rollover reaches Roster before the old certificate stops.

use roster_directory::DirectoryError;
use roster_sso::saml::metadata::MAX_METADATA_BYTES;

use crate::SignIn;

impl SignIn {
    /// The metadata XML at `url` (https, or http on loopback; no redirects; the outbound
    /// address policy; at most 256 KiB).
    pub async fn fetch_metadata(&self, url: &str) -> Result<String, DirectoryError> {
        let parsed = roster_directory::outbound::secure_url(url, "metadata URL")?;
        let http = self.http().map_err(DirectoryError::Internal)?;
        let mut response = http
            .raw(parsed.as_str())
            .map_err(DirectoryError::Setting)?
            .get(parsed.as_str())
            .send()
            .await
            .map_err(|e| DirectoryError::Setting(format!("reading the metadata at {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(DirectoryError::Setting(format!(
                "the metadata URL {url} answered {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| DirectoryError::Setting(format!("reading the metadata at {url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_METADATA_BYTES {
                return Err(DirectoryError::Setting(format!(
                    "the metadata at {url} is larger than {MAX_METADATA_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body)
            .map_err(|_| DirectoryError::Setting(format!("the metadata at {url} is not UTF-8")))
    }

    /// Reads again the metadata of every connection due (a day after it last was); how many
    /// were refreshed. A connection whose URL fails keeps the metadata it had, and is tried
    /// again at the next round.
    pub async fn refresh_metadata(&self) -> usize {
        let due = match self.directory().metadata_due().await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "listing the SAML metadata to refresh failed");
                return 0;
            }
        };
        let mut refreshed = 0;
        for connection in due {
            let roster_directory::sso::Protocol::Saml { settings, .. } = &connection.protocol
            else {
                continue;
            };
            let Some(url) = settings.metadata_url.clone() else {
                continue;
            };
            let result = match self.fetch_metadata(&url).await {
                Ok(xml) => self.directory().refresh_metadata(&connection, xml).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => refreshed += 1,
                Err(e) => tracing::warn!(
                    tenant = %connection.tenant,
                    connection = %connection.name,
                    %url,
                    error = %e,
                    "refreshing a connection's SAML metadata failed; it keeps the metadata it had"
                ),
            }
        }
        refreshed
    }

    /// Refreshes due metadata every hour, for as long as the process runs.
    pub fn spawn_metadata_refresh(&self) {
        let signin = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                signin.refresh_metadata().await;
            }
        });
    }
}

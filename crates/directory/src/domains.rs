//! The e-mail domains that lead a sign-in to its tenant (`/auth/login?email=`, issue 18's SSO
//! redirect). A domain is one tenant's, verified either by the operator (`roster sso
//! add-domain`) or by the tenant's administrator through DNS: Roster names a TXT record
//! (`_roster-challenge.{domain}` = `roster-domain-verification={code}`), the administrator
//! publishes it, and Roster looks it up. The code is derived from the server key, the tenant
//! and the domain, so nothing is stored until the domain is verified, and another tenant's
//! record never verifies it for this one.

use std::sync::Arc;

use roster_store::TenantId;

use crate::{Directory, DirectoryError};

/// The TXT records of a DNS name: the system's resolver, or one a test gives.
#[async_trait::async_trait]
pub trait TxtLookup: Send + Sync {
    /// The TXT records at `name` (each record's strings joined); an empty list when the name
    /// has none; `Err` with what went wrong when DNS could not answer.
    async fn txt(&self, name: &str) -> Result<Vec<String>, String>;
}

/// The system's resolver (`/etc/resolv.conf`), made on first use; lookups time out after 5 s.
#[derive(Default)]
pub struct SystemDns {
    resolver: tokio::sync::OnceCell<Result<hickory_resolver::TokioResolver, String>>,
}

#[async_trait::async_trait]
impl TxtLookup for SystemDns {
    async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        {
            let resolver = self
                .resolver
                .get_or_init(|| async {
                    let mut builder = hickory_resolver::TokioResolver::builder_tokio()
                        .map_err(|e| format!("the system's DNS settings: {e}"))?;
                    builder.options_mut().timeout = std::time::Duration::from_secs(5);
                    builder.options_mut().attempts = 2;
                    Ok(builder.build())
                })
                .await
                .as_ref()
                .map_err(Clone::clone)?;
            match resolver.txt_lookup(name).await {
                Ok(found) => Ok(found
                    .iter()
                    .take(50)
                    .map(|txt| {
                        txt.txt_data()
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>()
                    })
                    .collect()),
                Err(e) if e.is_no_records_found() => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

/// What a tenant's administrator publishes to verify a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainChallenge {
    /// The domain, as stored.
    pub domain: String,
    /// The TXT record's name: `_roster-challenge.{domain}`.
    pub name: String,
    /// Its value: `roster-domain-verification={code}`.
    pub value: String,
}

/// A domain as stored: lower-case, without a leading `@`, letters, digits, dashes and dots,
/// at least two labels.
fn check_domain(text: &str) -> Result<String, DirectoryError> {
    let domain = text.trim().trim_start_matches('@').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let fine = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if fine {
        Ok(domain)
    } else {
        Err(DirectoryError::Setting(format!(
            "{text:?} is not a domain (such as contoso.com)"
        )))
    }
}

impl Directory {
    /// The same directory looking TXT records up with `dns` (tests give a fixed one).
    pub fn with_dns(mut self, dns: Arc<dyn TxtLookup>) -> Self {
        self.dns = dns;
        self
    }

    /// Gives `domain` to `tenant`, verified by the operator: users whose e-mail is at it are
    /// sent to the tenant's identity provider by `/auth/login?email=`.
    pub async fn add_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
    ) -> Result<String, DirectoryError> {
        let domain = check_domain(domain)?;
        self.give_domain(tenant, &domain, "operator").await?;
        Ok(domain)
    }

    async fn give_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
        verified_by: &str,
    ) -> Result<(), DirectoryError> {
        self.tenant_by(&crate::TenantRef::Id(tenant.clone()))
            .await?;
        self.store
            .add_tenant_domain(tenant, domain, verified_by, self.clock.now())
            .await
            .map_err(|e| match e {
                roster_store::StoreError::Conflict(_) => DirectoryError::Setting(format!(
                    "the domain {domain} already belongs to another organisation"
                )),
                other => other.into(),
            })
    }

    /// The TXT record that verifies `domain` for `tenant`.
    pub fn domain_challenge(
        &self,
        tenant: &TenantId,
        domain: &str,
    ) -> Result<DomainChallenge, DirectoryError> {
        let domain = check_domain(domain)?;
        let input = format!("{}\0{domain}", tenant.as_str());
        let code = self
            .ring()?
            .current()
            .mac("domain verification", input.as_bytes());
        let code: String = code[..20].iter().map(|b| format!("{b:02x}")).collect();
        Ok(DomainChallenge {
            name: format!("_roster-challenge.{domain}"),
            value: format!("roster-domain-verification={code}"),
            domain,
        })
    }

    /// Looks the domain's TXT record up and, when it carries this tenant's value, gives the
    /// domain to the tenant (verified by DNS). A missing record, another value, or DNS that
    /// does not answer is a `Setting` error that says what to publish.
    pub async fn verify_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
    ) -> Result<String, DirectoryError> {
        let challenge = self.domain_challenge(tenant, domain)?;
        let publish = format!(
            "publish a TXT record named {} with the value {}, then verify again (DNS changes \
             can take a while to be seen)",
            challenge.name, challenge.value
        );
        let found = self.dns.txt(&challenge.name).await.map_err(|e| {
            DirectoryError::Setting(format!(
                "DNS did not answer for {}: {e}; {publish}",
                challenge.name
            ))
        })?;
        if !found.iter().any(|v| v.trim() == challenge.value) {
            let seen = if found.is_empty() {
                "has no TXT record".to_owned()
            } else {
                "has TXT records, none of them this organisation's value".to_owned()
            };
            return Err(DirectoryError::Setting(format!(
                "{} {seen}: {publish}",
                challenge.name
            )));
        }
        self.give_domain(tenant, &challenge.domain, "dns").await?;
        Ok(challenge.domain)
    }

    /// A tenant's domains.
    pub async fn domains(&self, tenant: &TenantId) -> Result<Vec<String>, DirectoryError> {
        Ok(self
            .store
            .tenant_domains(tenant)
            .await?
            .into_iter()
            .filter(|d| !d.starts_with("entra:"))
            .collect())
    }

    /// Takes a domain from a tenant.
    pub async fn remove_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
    ) -> Result<(), DirectoryError> {
        let domain = check_domain(domain)?;
        self.store
            .remove_tenant_domain(tenant, &domain)
            .await
            .map_err(|e| match e {
                roster_store::StoreError::NotFound => DirectoryError::NotFound {
                    kind: "Domain",
                    id: domain.clone(),
                },
                other => other.into(),
            })
    }

    /// The tenant whose domain an e-mail address (or a bare domain) is at.
    pub async fn tenant_for_email(
        &self,
        email: &str,
    ) -> Result<Option<roster_store::Tenant>, DirectoryError> {
        let domain = email.rsplit('@').next().unwrap_or_default();
        let Ok(domain) = check_domain(domain) else {
            return Ok(None);
        };
        match self.store.domain_tenant(&domain).await? {
            Some(id) => Ok(self.store.tenant(&id).await?),
            None => Ok(None),
        }
    }
}

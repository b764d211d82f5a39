//! The command line: every command, its arguments and its options (clap definitions).

use std::net::SocketAddr;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

/// Roster: SCIM 2.0 provisioning for every customer organisation of your application.
#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: SCIM 2.0 provisioning for every customer organisation of your application: \
             serve, tenants and their tokens, API keys, webhooks."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The address to listen on.
    #[arg(
        long,
        env = "ROSTER_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub(crate) listen: SocketAddr,
    /// The database: sqlite://FILE (`serve` and `tenant create` create it if missing) or postgres://USER:PASSWORD@HOST/DB
    /// (shared by any number of Roster processes).
    #[arg(
        long = "database",
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite://roster.db",
        global = true
    )]
    pub(crate) database: String,
    /// The most connections to a PostgreSQL database this process opens.
    #[arg(
        long,
        env = "ROSTER_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub(crate) database_max_connections: u32,
    /// The externally visible base URL, used in Provisioning URLs, Location and meta.location.
    /// Defaults to http:// and the listen address.
    #[arg(long, env = "ROSTER_PUBLIC_URL", global = true)]
    pub(crate) public_url: Option<String>,
}

/// The options of `roster serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Serves Prometheus metrics on this address instead of at /metrics on the main one.
    #[arg(long, env = "ROSTER_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// How many days events are kept in the change log.
    #[arg(long, env = "ROSTER_EVENT_RETENTION_DAYS", default_value_t = 90)]
    pub(crate) event_retention_days: u32,
    /// How many days the provisioning log keeps a request; 0 turns the log off.
    #[arg(long, env = "ROSTER_PROVISIONING_LOG_DAYS", default_value_t = 30)]
    pub(crate) provisioning_log_days: u32,
    /// How long a webhook receiver has to answer, in seconds (default 10).
    #[arg(long, env = "ROSTER_WEBHOOK_TIMEOUT_SECONDS")]
    pub(crate) webhook_timeout_seconds: Option<u64>,
    /// How long a process keeps a webhook stream after claiming it, in seconds (default 30):
    /// after a crash, another process resumes its deliveries once this has passed.
    #[arg(long, env = "ROSTER_WEBHOOK_LEASE_SECONDS")]
    pub(crate) webhook_lease_seconds: Option<u64>,
    /// The most client connections open at once (lowered to fit the file descriptor limit).
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub(crate) max_connections: usize,
    /// Seconds a client has to send a request's head.
    #[arg(long, env = "ROSTER_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10)]
    pub(crate) header_read_timeout_seconds: u64,
    /// Seconds a connection may stay without traffic before it is closed.
    #[arg(long, env = "ROSTER_IDLE_TIMEOUT_SECONDS", default_value_t = 60)]
    pub(crate) idle_timeout_seconds: u64,
    /// Seconds a request may take, its body included, before it is answered 503 (at most
    /// 1,800: the provisioning log's time windows count on no request taking an hour).
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=1800))]
    pub(crate) request_timeout_seconds: u64,
    /// The most bytes of resources in one page of a list (a page is cut there).
    #[arg(long, env = "ROSTER_MAX_PAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub(crate) max_page_bytes: usize,
    /// The most values of one multi-valued attribute of a user or group (not a group's
    /// members).
    #[arg(long, env = "ROSTER_MAX_VALUES_PER_ATTRIBUTE", default_value_t = 100)]
    pub(crate) max_values_per_attribute: usize,
    /// The application (client) id of your multi-tenant Microsoft Entra application: turns on
    /// `/auth/request-access/ms365`, Microsoft 365 sign-in for every tenant bound to an Entra
    /// directory (`roster sso bind-entra`).
    #[arg(long, env = "ROSTER_MS365_CLIENT_ID", requires = "ms365_client_secret")]
    pub(crate) ms365_client_id: Option<String>,
    /// Its client secret.
    #[arg(long, env = "ROSTER_MS365_CLIENT_SECRET", hide_env_values = true)]
    pub(crate) ms365_client_secret: Option<String>,
    /// Its authority (the organizations endpoint).
    #[arg(
        long,
        env = "ROSTER_MS365_AUTHORITY",
        default_value = "https://login.microsoftonline.com/organizations/v2.0"
    )]
    pub(crate) ms365_authority: String,
    /// Where a sign-in by e-mail (`/auth/login?email=`) whose domain no tenant has goes: the
    /// host application's own login page.
    #[arg(long, env = "ROSTER_SSO_FALLBACK_URL")]
    pub(crate) sso_fallback_url: Option<String>,
    /// The most bytes of one user's or group's JSON (a group's members not counted).
    #[arg(long, env = "ROSTER_MAX_RESOURCE_BYTES", default_value_t = 64 * 1024)]
    pub(crate) max_resource_bytes: usize,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the SCIM service.
    Serve(ServeArgs),
    /// Manages tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manages the host application's API keys (for /api/v1: events, tenants, users, groups).
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manages webhook endpoints that receive every change, signed (Standard Webhooks).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Manages the operators who sign in to the console.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Manages plans: what the tenants on each may use (provisioning, SSO).
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Manages the server key that seals the secrets Roster shows again (ROSTER_SECRET_KEY,
    /// or a key file beside a SQLite database).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manages tenants' single sign-on connections to their identity providers.
    #[command(subcommand)]
    Sso(SsoCommand),
    /// Manages the host applications that receive signed-in users (OpenID Connect clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Manages outbound provisioning: the SCIM applications (targets) a tenant's users and
    /// groups are pushed into.
    #[command(subcommand)]
    Target(TargetCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TargetCommand {
    /// Adds a target to a tenant; its first cycle starts at once in `roster serve`.
    Add {
        /// The tenant (id, slug, name, or external_id:VALUE).
        tenant: String,
        /// The target's name (letters, digits, dashes).
        #[arg(long)]
        name: String,
        /// Its SCIM base URL (https, or http on localhost).
        #[arg(long)]
        url: String,
        /// A bearer token.
        #[arg(long, conflicts_with_all = ["client_id", "client_secret", "token_url"], required_unless_present = "client_id")]
        token: Option<String>,
        /// OAuth 2.0 client credentials: the client id.
        #[arg(long, requires_all = ["client_secret", "token_url"])]
        client_id: Option<String>,
        /// Its secret.
        #[arg(long)]
        client_secret: Option<String>,
        /// The token endpoint.
        #[arg(long)]
        token_url: Option<String>,
        /// Which users and groups it receives: assigned (Entra's default) or all.
        #[arg(long, default_value = "assigned", value_parser = ["assigned", "all"])]
        scope: String,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists a tenant's targets.
    List {
        /// The tenant.
        tenant: String,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows a target: its settings, mappings, run and what it holds.
    Show {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a target's cycle stands: phase, progress, failures, quarantine.
    Status {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Tests the connection as Entra does (a lookup of a random userName, then
    /// /ServiceProviderConfig); success ends a quarantine.
    Test {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
    },
    /// Removes a target (what it holds stays there).
    Remove {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
    },
    /// Pauses a target's cycles.
    Pause {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
    },
    /// Resumes them.
    Resume {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
    },
    /// Forgets what Roster knows the target holds and starts a new initial cycle.
    Restart {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
    },
    /// Assigns a user or a group to a target (or takes the assignment away).
    Assign {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// A user's id.
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        /// A group's id (its members are assigned through it).
        #[arg(long)]
        group: Option<String>,
        /// Takes the assignment away.
        #[arg(long)]
        remove: bool,
    },
    /// Provisions one user or group now and prints each step.
    Provision {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// A user's id.
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        user: Option<String>,
        /// A group's id.
        #[arg(long)]
        group: Option<String>,
    },
    /// Lists a target's actions that wait for approval (or were decided).
    Approvals {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// pending (the default), approved, rejected, sent, waiting, superseded, several
        /// comma-separated, or all.
        #[arg(long, default_value = "pending")]
        state: String,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Approves a target's pending actions (all, or those named with --id), or rejects them.
    Approve {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// An approval's id (repeatable); all pending when absent.
        #[arg(long)]
        id: Vec<String>,
        /// Rejects instead: not sent while the change stays the same.
        #[arg(long)]
        reject: bool,
    },
    /// Evaluates every user again (roles, rules, mappings) in a reconciling cycle; only the
    /// differences are sent.
    Reapply {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
    },
    /// Checks the target's roles and rules with users: which matched, what they would set,
    /// and the request; nothing is sent.
    Check {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// A user's id (repeatable).
        #[arg(long, required = true)]
        user: Vec<String>,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Reads the groups the target holds and the values its schemas advertise, for rules.
    Entitlements {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// Prints one JSON object: {"groups", "values"}.
        #[arg(long)]
        json: bool,
    },
    /// A dry run of a whole cycle: the counts of what it would do, and each request it would
    /// send; nothing is sent.
    DryRun {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// Prints one JSON object: {"counts", "requests", "truncated", "errors"}.
        #[arg(long)]
        json: bool,
    },
    /// Prints a target's user (or group) mappings as JSON, for editing.
    Mappings {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// The group mappings instead of the user mappings.
        #[arg(long)]
        groups: bool,
        /// Replaces them with the mappings in this file (JSON, as printed), checked first.
        #[arg(long)]
        import: Option<std::path::PathBuf>,
    },
    /// Changes a target's settings, each given as KEY=VALUE: url, token, scope
    /// (assigned|all), groups (on|off), rate-limit (per second), timeout (seconds), interval
    /// (minutes), quarantine (minutes between a quarantined target's tries, default 60),
    /// create, update, deactivate, delete, sync-password (on|off), leaving-scope and
    /// on-source-delete (delete|suspend|nothing: what leaving the scope, and deletion at the
    /// source, do in the target), deprovision (both at once), approvals (create, update,
    /// deactivate, delete, comma-separated, or none: what waits for approval),
    /// deletion-threshold (N, N% or off: more removals in one cycle wait for approval as a
    /// batch), write-back (FROM:TO,…: the target's attribute, such as id, kept in the
    /// organisation's extra user attribute TO; none), roles (the organisation's roles whose
    /// users it receives, comma-separated, or none), rules (@FILE of entitlement rules as
    /// JSON), scoping (@FILE of scoping filters as JSON).
    Set {
        /// The tenant.
        tenant: String,
        /// The target (name or id).
        target: String,
        /// KEY=VALUE, one or more.
        #[arg(required = true)]
        settings: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SsoCommand {
    /// Adds a SAML connection to a tenant, from its identity provider's metadata; prints the
    /// values to paste into the identity provider.
    AddSaml {
        /// The tenant (id, slug, name, or external_id:VALUE).
        tenant: String,
        /// The connection's name in sign-on URLs (letters, digits, dashes).
        #[arg(long)]
        name: String,
        /// The identity provider: entra, okta, onelogin, google or generic (its defaults).
        #[arg(long, default_value = "generic")]
        preset: String,
        /// The identity provider's metadata XML: a file, or - for standard input.
        #[arg(
            long,
            required_unless_present = "metadata_url",
            conflicts_with = "metadata_url"
        )]
        metadata: Option<std::path::PathBuf>,
        /// Or its URL (Entra's App Federation Metadata Url): read now and again every day, so
        /// that a certificate rollover reaches Roster.
        #[arg(long)]
        metadata_url: Option<String>,
        /// The provisioned attribute a sign-in is matched on: userName, externalId, emails, or one
        /// of the organisation's extra user attributes (such as one a target writes back)
        /// (the preset's by default: externalId for entra, userName otherwise).
        #[arg(long = "match")]
        match_on: Option<String>,
        /// The claim that carries it: nameid, or an attribute's name (the preset's by default).
        #[arg(long)]
        claim: Option<String>,
        /// Whether sign-ins started by the identity provider (its dashboard tile) are accepted.
        #[arg(long, value_parser = ["on", "off"])]
        idp_initiated: Option<String>,
        /// Makes it the tenant's default connection (its sign-on URL without a name).
        #[arg(long)]
        default: bool,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Adds an OpenID Connect connection to a tenant: Roster is a client of the identity
    /// provider (register its redirect URI there: this prints it).
    AddOidc {
        /// The tenant (id, slug, name, or external_id:VALUE).
        tenant: String,
        /// The connection's name in sign-on URLs (letters, digits, dashes).
        #[arg(long)]
        name: String,
        /// The identity provider: entra, okta, onelogin, google or generic (its defaults).
        #[arg(long, default_value = "generic")]
        preset: String,
        /// The issuer URL (its /.well-known/openid-configuration must answer).
        #[arg(long)]
        issuer: String,
        /// Roster's client id at the identity provider.
        #[arg(long)]
        client_id: String,
        /// Roster's client secret there (sealed with the server key).
        #[arg(long, env = "ROSTER_SSO_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Scopes besides openid (repeat; default email and profile).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// The provisioned attribute a sign-in is matched on: userName, externalId, emails, or one
        /// of the organisation's extra user attributes (such as one a target writes back)
        /// (the preset's by default: externalId for entra, userName otherwise).
        #[arg(long = "match")]
        match_on: Option<String>,
        /// The claim that carries it (the preset's by default: oid for entra, email otherwise).
        #[arg(long)]
        claim: Option<String>,
        /// Makes it the tenant's default connection.
        #[arg(long)]
        default: bool,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists a tenant's connections.
    List {
        /// The tenant.
        tenant: String,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Removes a connection.
    Remove {
        /// The tenant.
        tenant: String,
        /// The connection's name or id.
        connection: String,
    },
    /// Gives a tenant an e-mail domain, verified by you, the operator: `/auth/login?email=`
    /// sends its users to the tenant's identity provider.
    AddDomain {
        /// The tenant.
        tenant: String,
        /// The domain (contoso.com).
        domain: String,
    },
    /// Verifies an e-mail domain through DNS: prints the TXT record the tenant publishes, and
    /// with `--check` looks it up and, when it is there, gives the domain to the tenant.
    VerifyDomain {
        /// The tenant.
        tenant: String,
        /// The domain (contoso.com).
        domain: String,
        /// Look the record up now (without it, only print what to publish).
        #[arg(long)]
        check: bool,
    },
    /// Lists a tenant's domains.
    Domains {
        /// The tenant.
        tenant: String,
    },
    /// Takes a domain from a tenant.
    RemoveDomain {
        /// The tenant.
        tenant: String,
        /// The domain.
        domain: String,
    },
    /// Binds a Microsoft Entra directory (tenant id) to a tenant: its users sign in through
    /// the shared Microsoft 365 connection (`roster tenant trust --entra` binds it too).
    BindEntra {
        /// The tenant.
        tenant: String,
        /// The Entra directory (tenant) id, a GUID.
        directory_id: String,
    },
    /// Changes a connection: the default, sign-ins the identity provider starts, the claim
    /// that names the user, the identity provider's metadata (a certificate rollover), or an
    /// OpenID Connect client secret (they expire).
    Set {
        /// The tenant.
        tenant: String,
        /// The connection (name or id).
        connection: String,
        /// Makes it the tenant's default connection (on), or no longer (off).
        #[arg(long, value_parser = ["on", "off"])]
        default: Option<String>,
        /// Whether sign-ins started by the identity provider are accepted (SAML).
        #[arg(long, value_parser = ["on", "off"])]
        idp_initiated: Option<String>,
        /// The provisioned attribute a sign-in is matched on: userName, externalId, emails, or one
        /// of the organisation's extra user attributes (such as one a target writes back).
        #[arg(long = "match")]
        match_on: Option<String>,
        /// The claim that carries it: nameid, or an attribute's name.
        #[arg(long)]
        claim: Option<String>,
        /// The identity provider's metadata XML (SAML): a file, or - for standard input.
        #[arg(long)]
        metadata: Option<std::path::PathBuf>,
        /// Roster's new client secret at the identity provider (OpenID Connect).
        #[arg(long)]
        client_secret: Option<String>,
    },
    /// Turns just-in-time creation on or off for a connection: a user who signs in but was
    /// not provisioned is created (only while the tenant's provisioning is off).
    Jit {
        /// The tenant.
        tenant: String,
        /// The connection's name or id.
        connection: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Rotates the key ID tokens are signed with: the new key is published now and signs in
    /// an hour; the old one stays published until its last tokens have expired.
    RotateKey,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// Registers a host application; prints its client id and secret (shown once).
    Create {
        /// The application's name.
        name: String,
        /// Where codes may be sent (repeat for several); compared exactly.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where a sign-in that did not start at the application sends the user (OpenID
        /// Connect's initiate_login_uri).
        #[arg(long)]
        login_uri: Option<String>,
        /// Prints JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists the applications.
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes an application.
    Revoke {
        /// Its client id.
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OperatorCommand {
    /// Prints a one-time link (30 minutes) that creates an operator with this e-mail.
    Create {
        /// The operator's e-mail.
        email: String,
    },
    /// Turns an operator's two-step sign-in off (a lost phone); the operator sets it up again
    /// from the console's Account page.
    ResetTwoStep {
        /// The operator's e-mail.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PlanCommand {
    /// Lists the plans.
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Creates or changes a plan.
    Set {
        /// The plan's name (lowercase letters, digits and -).
        name: String,
        /// Whether its tenants may provision over SCIM.
        #[arg(long, value_parser = ["on", "off"])]
        provisioning: String,
        /// Whether its tenants may sign on through their identity provider.
        #[arg(long, value_parser = ["on", "off"])]
        sso: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Prints a new server key (for ROSTER_SECRET_KEY); stores it nowhere.
    Generate,
    /// Seals every stored secret again with the current key: with a key file, a new key is
    /// made and replaces it; with ROSTER_SECRET_KEY=NEW,OLD, secrets move to NEW.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Adds an endpoint; events are POSTed to it signed with the printed secret.
    Add {
        /// The endpoint's URL (http:// or https://).
        url: String,
        /// Only this tenant's events (id or unique name); every tenant's without it.
        #[arg(long)]
        tenant: Option<String>,
        /// Prints one JSON object: {"id", "url", "tenant_id", "secret"}.
        #[arg(long)]
        json: bool,
        /// Allows an endpoint on a link-local or cloud-metadata address (169.254.0.0/16,
        /// fe80::/10, metadata.google.internal, ...), refused by default.
        #[arg(long)]
        allow_link_local: bool,
    },
    /// Lists endpoints (without their secrets).
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Removes an endpoint and its delivery state.
    Remove {
        /// The endpoint's id (wh_…).
        id: String,
    },
    /// Gives an endpoint a new secret; the old one keeps signing beside it for the overlap.
    Rotate {
        /// The endpoint's id.
        id: String,
        /// Hours both secrets sign.
        #[arg(long, default_value_t = 24)]
        overlap_hours: u32,
        /// Prints one JSON object: {"id", "secret"}.
        #[arg(long)]
        json: bool,
    },
    /// Delivers an endpoint's events again, from an event (of that event's tenant) on.
    Redeliver {
        /// The endpoint's id.
        id: String,
        /// The first event to deliver again (evt_…).
        #[arg(long)]
        from: String,
    },
    /// Lists events given up on after their last attempt.
    DeadLetters {
        /// Only this endpoint's.
        id: Option<String>,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Shows an endpoint's latest delivery attempts.
    Attempts {
        /// The endpoint's id.
        id: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Creates an API key and prints it once (only its hash is stored).
    Create {
        /// What the key is for (e.g. the host application's name).
        name: String,
        /// What it may do: events:read, directory:read, tenants:write (repeat for several;
        /// events:read and directory:read when absent).
        #[arg(long = "scope", value_parser = ["events:read", "directory:read", "tenants:write"])]
        scopes: Vec<String>,
        /// Prints one JSON object: {"id", "name", "key"}.
        #[arg(long)]
        json: bool,
    },
    /// Lists API keys (never the keys themselves).
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes an API key at once.
    Revoke {
        /// The key's id (key_…).
        id: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum HoldAction {
    /// Shows the active hold, or the last one.
    Show,
    /// Delivers the held events, in order.
    Release,
    /// Drops them.
    Discard,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TenantCommand {
    /// Creates a tenant and its first token.
    Create {
        /// The tenant's name (the customer organisation).
        name: String,
        /// The host application's own id for the organisation (unique).
        #[arg(long)]
        external_id: Option<String>,
        /// The tenant's plan (roster plan list); enterprise when absent.
        #[arg(long)]
        plan: Option<String>,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Lists tenants.
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Shows a tenant and its settings.
    Show {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Prints a one-time setup link that opens the tenant's Provisioning & SSO page, for its
    /// administrator.
    PortalLink {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// How long the link works: a number with m, h or d (7d when absent; at most 30d).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<time::Duration>,
        /// Prints one JSON object: {"id", "url", "expires_at"}.
        #[arg(long)]
        json: bool,
    },
    /// Renames a tenant.
    Rename {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Its new name.
        name: String,
    },
    /// Deletes a tenant and everything it holds (users, groups, tokens, OAuth clients);
    /// without --yes, only says what would be deleted.
    Delete {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Deletes for real.
        #[arg(long)]
        yes: bool,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Changes a setting: provisioning on|off, groups on|off, compatibility auto|strict,
    /// user-attributes NAME[:TYPE][,...] (extra user attributes; TYPE string, boolean,
    /// integer, decimal, dateTime or reference, with [] for several values),
    /// access-token-minutes 60..360 (lifetime of OAuth access tokens), unknown-members
    /// refuse|ignore (group members that name nothing), patch-response resource|no-content
    /// (what a user PATCH answers), hold-threshold N|N%|off (more deactivations and deletions
    /// than this within 10 minutes are held from the host application and targets until
    /// released or discarded).
    Set {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The setting.
        key: String,
        /// Its new value.
        value: String,
    },
    /// Prints the tenant's roles and role mappings as JSON, or replaces them with a file's.
    Roles {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The roles and mappings to set (JSON, as printed), checked first.
        #[arg(long)]
        import: Option<std::path::PathBuf>,
    },
    /// Shows the tenant's mass-change hold, or ends it: release delivers the held events in
    /// order; discard drops them (users the identity provider has restored since get a
    /// corrective user.reactivated).
    Hold {
        /// show, release or discard.
        #[arg(value_enum)]
        action: HoldAction,
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Issues a new static token for a tenant (the previous ones stop working unless
    /// --keep-old), or lists or revokes its tokens.
    Token(TokenArgs),
    /// OAuth 2.0 clients of a tenant (client credentials grant).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Trusts an external issuer's signed tokens for a tenant (workload identity
    /// federation): --entra DIRECTORY_ID for Microsoft Entra ID, or --issuer URL.
    Trust {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// A Microsoft Entra ID directory (tenant) id: trusts its v2.0 and v1 issuers and
        /// requires its `tid` claim.
        #[arg(long, conflicts_with = "issuer", required_unless_present = "issuer")]
        entra: Option<String>,
        /// An issuer URL (repeat for several accepted `iss` values; the first is where its
        /// OpenID configuration is read).
        #[arg(long)]
        issuer: Vec<String>,
        /// The audience (`aud`) the tokens must be issued for.
        #[arg(long)]
        audience: String,
        /// The subject (`sub`) the tokens must have.
        #[arg(long)]
        subject: Option<String>,
        /// Another claim the tokens must have, as NAME=VALUE (repeatable).
        #[arg(long = "claim", value_parser = parse_claim)]
        claims: Vec<(String, String)>,
        /// Where the issuer's signing keys are, if not in its OpenID configuration.
        #[arg(long)]
        jwks_uri: Option<String>,
        /// Allows issuer and key URLs on a link-local or cloud-metadata address
        /// (169.254.0.0/16, fe80::/10, metadata.google.internal, ...), refused by default.
        #[arg(long)]
        allow_link_local: bool,
    },
    /// Stops trusting any external issuer for a tenant.
    Untrust {
        /// The tenant's id (or its name, when unique).
        tenant: String,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    pub(crate) action: Option<TokenCommand>,
    /// The tenant's id (or its name, when unique).
    #[arg(required = true)]
    pub(crate) tenant: Option<String>,
    /// Keeps the tenant's previous tokens working (a rotation without a gap: move the
    /// identity provider to the new token, then revoke the old one).
    #[arg(long)]
    pub(crate) keep_old: bool,
    /// With --keep-old, the previous tokens stop working after this long (1h, 7d) instead of
    /// when they are revoked.
    #[arg(long, value_parser = parse_duration, requires = "keep_old")]
    pub(crate) old_expires_in: Option<time::Duration>,
    /// A name for the token, to tell it apart later.
    #[arg(long, default_value = "")]
    pub(crate) name: String,
    /// How long the token works: a number with s, m, h, d or w (90d); for ever if absent.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) expires_in: Option<time::Duration>,
    /// Prints one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Lists a tenant's live static tokens (never the tokens themselves).
    List {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes one static token: it stops working within a second on every process.
    Revoke {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The token's id (tok_…, from `roster tenant token list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Creates an OAuth client; prints its client id, its secret (shown once) and the token
    /// endpoint.
    Create {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// A name for the client.
        #[arg(long, default_value = "")]
        name: String,
        /// A client that authenticates only with a JWT from the tenant's trusted issuer
        /// (roster tenant trust): no secret is shown.
        #[arg(long)]
        federated: bool,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Lists a tenant's OAuth clients.
    List {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes an OAuth client and every access token issued to it.
    Revoke {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The client id (rci_…).
        id: String,
    },
}

/// `90d`, `12h`, `30m`, `3600s`, `2w`.
pub(crate) fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h, d or w (as in 90d)"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number followed by s, m, h, d or w"))?;
    let d = match unit {
        "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        "w" => time::Duration::weeks(n),
        _ => return Err(format!("{text:?}: the unit must be s, m, h, d or w")),
    };
    if d <= time::Duration::ZERO {
        return Err("the lifetime must be positive".into());
    }
    Ok(d)
}

/// `NAME=VALUE`.
pub(crate) fn parse_claim(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} must be NAME=VALUE"))?;
    if name.trim().is_empty() {
        return Err(format!("{text:?} must be NAME=VALUE"));
    }
    Ok((name.trim().to_owned(), value.to_owned()))
}

pub(crate) fn time_text(t: Option<time::OffsetDateTime>) -> String {
    t.map_or_else(|| "-".to_owned(), roster_scim::value::format_datetime)
}

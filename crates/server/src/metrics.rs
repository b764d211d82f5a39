//! Prometheus metrics: requests by route and status, their latency, and the database pool.
//!
//! Labels never hold a tenant, a resource id or anything a client chose: the route is the
//! routed template (`/scim/v2/{tenant}/Users/{id}`, else `unmatched`) and the method one of
//! the standard ones (else `other`), so the number of series is fixed.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    pool_waiting: Gauge,
    change_log_backlog: Gauge,
    log_written: Counter,
    log_dropped: Counter,
    outbound: Arc<roster_engine::progress::Progress>,
    outbound_sent: Family<ActionLabels, Gauge>,
    outbound_cycle: Family<PoolLabels, Gauge>,
    outbound_quarantined: Gauge,
    tenant_holds: Gauge,
    approvals_pending: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with Roster's metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("roster");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response's head, by method and route template",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections of this process, by state (in_use, idle)",
            pool_connections.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most database connections this process opens",
            pool_max.clone(),
        );
        let pool_waiting = Gauge::default();
        registry.register(
            "db_pool_waiting",
            "Requests waiting for a database connection (SQLite: writes queued for the writer)",
            pool_waiting.clone(),
        );
        let change_log_backlog = Gauge::default();
        registry.register(
            "change_log_backlog",
            "Events committed but not yet given a position in the change log (PostgreSQL)",
            change_log_backlog.clone(),
        );
        let log_written = Counter::default();
        registry.register(
            "provisioning_log_written",
            "Requests written to the provisioning log",
            log_written.clone(),
        );
        let log_dropped = Counter::default();
        registry.register(
            "provisioning_log_dropped",
            "Requests not written to the provisioning log (its queue full, or a write failed)",
            log_dropped.clone(),
        );
        let outbound_sent = Family::<ActionLabels, Gauge>::default();
        registry.register(
            "outbound_objects",
            "Objects this process's outbound engine sent to targets since it started, by action \
             (created, updated, deactivated, deleted, failed)",
            outbound_sent.clone(),
        );
        let outbound_cycle = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "outbound_cycle_objects",
            "Objects of the running outbound cycles of this process, by state (processed, total)",
            outbound_cycle.clone(),
        );
        let outbound_quarantined = Gauge::default();
        registry.register(
            "outbound_quarantined_targets",
            "Targets this process works that are quarantined",
            outbound_quarantined.clone(),
        );
        let tenant_holds = Gauge::default();
        registry.register(
            "tenant_holds_active",
            "Tenants whose deactivations and deletions are held until an administrator decides \
             (the mass-change hold), all tenants",
            tenant_holds.clone(),
        );
        let approvals_pending = Gauge::default();
        registry.register(
            "outbound_approvals_pending",
            "Outbound actions waiting for an administrator's approval, all tenants",
            approvals_pending.clone(),
        );
        Metrics {
            tenant_holds,
            approvals_pending,
            outbound: Arc::default(),
            outbound_sent,
            outbound_cycle,
            outbound_quarantined,
            log_written,
            log_dropped,
            change_log_backlog,
            registry,
            requests,
            latency,
            pool_connections,
            pool_max,
            pool_waiting,
        }
    }

    /// What the outbound engine of this process counts into (see `roster_engine::progress`).
    pub fn outbound_progress(&self) -> Arc<roster_engine::progress::Progress> {
        self.outbound.clone()
    }

    /// The counters of entries written to and dropped from the provisioning log.
    pub fn provisioning_log_counters(&self) -> (Counter, Counter) {
        (self.log_written.clone(), self.log_dropped.clone())
    }

    fn observe(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The metrics in Prometheus' text format, with the pool's state read now.
    pub fn render(
        &self,
        pool: roster_store::PoolStats,
        backlog: Option<u64>,
        waiting: Waiting,
    ) -> String {
        if let Some(n) = waiting.holds {
            self.tenant_holds.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(n) = waiting.approvals {
            self.approvals_pending
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(n) = backlog {
            self.change_log_backlog
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.pool_connections
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(pool.in_use));
        self.pool_connections
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
        self.pool_waiting
            .set(i64::try_from(pool.waiting).unwrap_or(i64::MAX));
        let o = self.outbound.snapshot();
        for (action, n) in [
            ("created", o.created),
            ("updated", o.updated),
            ("deactivated", o.deactivated),
            ("deleted", o.deleted),
            ("failed", o.failed),
        ] {
            self.outbound_sent
                .get_or_create(&ActionLabels { action })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.outbound_cycle
            .get_or_create(&PoolLabels { state: "processed" })
            .set(o.processed);
        self.outbound_cycle
            .get_or_create(&PoolLabels { state: "total" })
            .set(o.total);
        self.outbound_quarantined.set(o.quarantined);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// What waits for a decision, read at each scrape (`None` when the store did not answer).
#[derive(Debug, Clone, Copy, Default)]
pub struct Waiting {
    /// Tenants under a mass-change hold.
    pub holds: Option<u64>,
    /// Outbound actions pending approval.
    pub approvals: Option<u64>,
}

/// The label of a request's method: one of a closed set, so that a client inventing methods
/// cannot add series (each distinct label set is kept for the life of the process).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records every routed request's status and latency.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    metrics.observe(
        method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.directory.store();
    let backlog = store.event_backlog().await.ok();
    let waiting = Waiting {
        holds: store.count_active_holds().await.ok(),
        approvals: store.count_pending_approvals().await.ok(),
    };
    let body = state.metrics.render(store.pool_stats(), backlog, waiting);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

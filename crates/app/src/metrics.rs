//! Prometheus metrics and the middleware that records every request (and logs it, without
//! the query string's values or any header).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::time::Instant;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    jobs_pending: IntGauge,
    jobs_due: IntGauge,
    jobs_failed: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "desk_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "desk_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let pool_connections =
            IntGauge::new("desk_db_pool_connections", "open database connections")
                .expect("valid metric");
        let pool_idle =
            IntGauge::new("desk_db_pool_idle", "idle database connections").expect("valid metric");
        let jobs_pending = IntGauge::new("desk_jobs_pending", "jobs waiting to run, due or not")
            .expect("valid metric");
        let jobs_due = IntGauge::new("desk_jobs_due", "jobs whose time has come (the backlog)")
            .expect("valid metric");
        let jobs_failed = IntGauge::new(
            "desk_jobs_failed",
            "jobs kept as failed after their last attempt",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
            Box::new(jobs_pending.clone()),
            Box::new(jobs_due.clone()),
            Box::new(jobs_failed.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            jobs_pending,
            jobs_due,
            jobs_failed,
        }
    }

    /// Queue depth and failures, refreshed at scrape time.
    pub fn set_queue(&self, stats: desk_persistence::jobs::QueueStats) {
        self.jobs_pending.set(stats.pending);
        self.jobs_due.set(stats.due);
        self.jobs_failed.set(stats.failed);
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    pub fn set_pool(&self, connections: u32, idle: u32) {
        self.pool_connections.set(i64::from(connections));
        self.pool_idle.set(i64::from(idle));
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Records route (the pattern, never the raw path), method, status and latency.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<crate::http::AppState>>()
        .map(|s| s.metrics.clone());
    let method = req.method().to_string();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(metrics) = metrics {
        metrics.observe(&route, &method, status, elapsed);
    }
    tracing::info!(%method, %route, status, ms = elapsed * 1000.0, "request");
    Ok(response)
}

//! A small JSON web service on **rapport**: axum in front of `rapport::Service`, on PostgreSQL
//! (`DATABASE_URL` or `RAPPORT_POSTGRES_URL`), or SQLite when no URL is given. Copy it and
//! change what you need; `src/main.rs` is the binary, `tests/http.rs` drives it over HTTP.
//!
//! | method | path | does |
//! |---|---|---|
//! | `POST` | `/tenants/{tenant}/customers` | register (or find by email/phone): 201, or 200 for an existing customer |
//! | `GET` | `/tenants/{tenant}/customers/{id}` | the customer with tier, stage, churn risk and tags, each decision with its reason |
//! | `POST` | `/tenants/{tenant}/customers/{id}/activities` | record a purchase, refund, visit, complaint or contact: 201, or 200 for a repeat |
//! | `GET` | `/tenants/{tenant}/segments?q=<predicate>&limit=<n>` | ids of the customers in a segment, read page by page |
//! | `POST` | `/tenants/{tenant}/sweep?at=<rfc3339>` | re-evaluate everyone; what changed, with reasons |
//!
//! Errors are JSON `{"error": <code>, "message": <text>}` with a status from the error's type
//! ([`status_of`]): bad request syntax 400, a broken domain rule 422, unknown customer 404, a
//! concurrent change or a tombstone 409, a store that is down 503.
#![forbid(unsafe_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rapport::core::*;
use rapport::{NewActivity, Service};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the handlers share: the service over any store.
pub type AppState<S> = Arc<Service<S>>;

/// An opened store: PostgreSQL or SQLite, chosen at start-up.
#[derive(Debug)]
pub enum Opened {
    /// On PostgreSQL.
    Postgres(rapport_postgres::PostgresStore),
    /// On SQLite.
    Sqlite(rapport_sqlite::SqliteStore),
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A PostgreSQL server, with rapport's tables in `schema`.
    Postgres {
        /// Connection URL.
        url: String,
        /// Schema for rapport's tables.
        schema: String,
    },
    /// An SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
}

impl Backend {
    /// From the environment: `DATABASE_URL`, else `RAPPORT_POSTGRES_URL` (schema
    /// `RAPPORT_SCHEMA`, default `rapport`); without either, SQLite at `RAPPORT_SQLITE_PATH`
    /// (default `rapport-example.db`).
    ///
    /// ```
    /// use axum_postgres::Backend;
    /// let env = |k: &str| (k == "RAPPORT_POSTGRES_URL").then(|| "postgres://db/crm".to_owned());
    /// assert_eq!(
    ///     Backend::from_vars(env),
    ///     Backend::Postgres { url: "postgres://db/crm".into(), schema: "rapport".into() }
    /// );
    /// assert!(matches!(Backend::from_vars(|_| None), Backend::Sqlite { .. }));
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let url = var("DATABASE_URL")
            .or_else(|| var("RAPPORT_POSTGRES_URL"))
            .filter(|u| !u.trim().is_empty());
        match url {
            Some(url) => Backend::Postgres {
                url,
                schema: var("RAPPORT_SCHEMA").unwrap_or_else(|| "rapport".to_owned()),
            },
            None => Backend::Sqlite {
                path: var("RAPPORT_SQLITE_PATH")
                    .unwrap_or_else(|| "rapport-example.db".to_owned())
                    .into(),
            },
        }
    }

    /// [`Backend::from_vars`] on the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Opens the store (applying migrations). A PostgreSQL store runs its connections on the
    /// caller's tokio runtime.
    ///
    /// # Errors
    /// Connection, migration or file errors.
    pub async fn open(&self) -> Result<Opened, Box<dyn std::error::Error + Send + Sync>> {
        Ok(match self {
            Backend::Postgres { url, schema } => {
                let config =
                    rapport_postgres::PostgresConfig::new(url.clone()).with_schema(schema.clone());
                let handle = tokio::runtime::Handle::current();
                let store =
                    rapport_postgres::PostgresStore::connect_on(handle, config, Utc::now()).await?;
                Opened::Postgres(store)
            }
            Backend::Sqlite { path } => {
                let config = rapport_sqlite::SqliteConfig::default();
                Opened::Sqlite(rapport_sqlite::SqliteStore::open(path, config, Utc::now())?)
            }
        })
    }
}

impl Opened {
    /// Serves a service over this store on `listener` until `shutdown` completes (see
    /// [`serve`]).
    ///
    /// # Errors
    /// Listener errors.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self {
            Opened::Postgres(s) => serve(listener, Arc::new(Service::new(s)), shutdown).await,
            Opened::Sqlite(s) => serve(listener, Arc::new(Service::new(s)), shutdown).await,
        }
    }
}

/// The routes, over a service on any store.
pub fn router<S: Store + 'static>(state: AppState<S>) -> Router {
    Router::new()
        .route("/tenants/{tenant}/customers", post(register::<S>))
        .route("/tenants/{tenant}/customers/{id}", get(customer::<S>))
        .route(
            "/tenants/{tenant}/customers/{id}/activities",
            post(record::<S>),
        )
        .route("/tenants/{tenant}/segments", get(segment::<S>))
        .route("/tenants/{tenant}/sweep", post(sweep::<S>))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes the requests in
/// flight and returns.
///
/// # Errors
/// Listener errors.
pub async fn serve<S: Store + 'static>(
    listener: tokio::net::TcpListener,
    state: AppState<S>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on ctrl-c or, on Unix, SIGTERM (what `docker stop` and Kubernetes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// The request could not be read (syntax, a missing parameter, a malformed id): 400.
    BadRequest(String),
    /// The request was read but breaks a rule (an amount that is not a number): 422.
    Unprocessable(String),
    /// A use case failed: the status follows the error ([`status_of`]).
    Rapport(rapport::Error),
}

impl From<rapport::Error> for ApiError {
    fn from(e: rapport::Error) -> Self {
        ApiError::Rapport(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

/// The HTTP status and error code of a use case's error.
///
/// ```
/// use axum::http::StatusCode;
/// use axum_postgres::status_of;
/// use rapport::core::*;
/// let missing = rapport::Error::NotFound(CustomerId::from_u128(1));
/// assert_eq!(status_of(&missing), (StatusCode::NOT_FOUND, "not_found"));
/// let down = rapport::Error::Store(StoreError::unavailable("pool exhausted"));
/// assert_eq!(status_of(&down), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
/// ```
pub fn status_of(e: &rapport::Error) -> (StatusCode, &'static str) {
    use rapport::Error as E;
    match e {
        E::NotFound(_) | E::Store(StoreError::NotFound { .. }) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        E::Domain(DomainError::Tombstoned { .. } | DomainError::IllegalTransition { .. })
        | E::Contention { .. }
        | E::Store(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => {
            (StatusCode::CONFLICT, "conflict")
        }
        E::Domain(_) | E::Store(StoreError::Invalid(_)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
        }
        E::Store(StoreError::Unavailable { .. }) | E::Notify(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            ApiError::Unprocessable(m) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            ApiError::Rapport(e) => {
                let (status, code) = status_of(&e);
                let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
                    // Details go to the log, not to the client.
                    eprintln!("internal error: {e:?}");
                    "internal error".to_owned()
                } else {
                    e.to_string()
                };
                (status, code, message)
            }
        };
        (status, Json(json!({ "error": code, "message": message }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn tenant(s: &str) -> ApiResult<TenantId> {
    s.parse()
        .map_err(|e: DomainError| ApiError::BadRequest(e.to_string()))
}

fn customer_id(s: &str) -> ApiResult<CustomerId> {
    s.parse()
        .map_err(|e: DomainError| ApiError::BadRequest(e.to_string()))
}

/// A decision and why.
#[derive(Debug, Serialize)]
struct Decided<T> {
    /// What is stored.
    value: T,
    /// What the rules decide now (differs from `value` until the next write or sweep).
    now: T,
    /// Why `now`, as text.
    reason: String,
    /// Why `now`: the rule, the measured values and the thresholds.
    detail: Reason,
}

#[derive(Debug, Serialize)]
struct TagView {
    tag: String,
    source: TagSource,
    added_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
}

/// A customer as the API shows it.
#[derive(Debug, Serialize)]
struct CustomerView {
    id: CustomerId,
    version: u64,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    tier: Decided<Tier>,
    stage: Decided<Stage>,
    churn_risk: Value,
    tags: Vec<TagView>,
    orders: u32,
    revenue: Option<String>,
}

/// The view of a record, with the decisions the rules take for it at `now` (a pure
/// evaluation: nothing is written).
fn view<S: Store>(svc: &Service<S>, r: &Record, now: DateTime<Utc>) -> ApiResult<CustomerView> {
    let c = &r.customer;
    let e = evaluate(c, &r.stats, svc.policies(), &EvalInputs::at(now))
        .map_err(rapport::Error::from)?;
    let p = &c.profile;
    Ok(CustomerView {
        id: c.id(),
        version: c.version(),
        email: p.email.as_ref().map(|e| e.expose().as_str().to_owned()),
        phone: p.phone.as_ref().map(|e| e.expose().as_str().to_owned()),
        name: p.display_name.as_ref().map(|n| n.expose().clone()),
        tier: Decided {
            value: c.tier(),
            now: e.tier.to,
            reason: e.tier.reason.to_string(),
            detail: e.tier.reason.clone(),
        },
        stage: Decided {
            value: c.stage(),
            now: e.stage.to,
            reason: e.stage.reason.to_string(),
            detail: e.stage.reason.clone(),
        },
        churn_risk: json!({
            "score": e.churn_risk.score,
            "reason": e.churn_risk.reason.to_string(),
            "alert": e.churn_alert,
        }),
        tags: c
            .tags
            .iter()
            .map(|(tag, info)| TagView {
                tag: tag.to_string(),
                source: info.source,
                added_at: info.added_at,
                expires_at: info.expires_at,
            })
            .collect(),
        orders: r.stats.orders(),
        revenue: r.stats.revenue().map(|m| m.to_string()),
    })
}

/// `POST /tenants/{tenant}/customers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    email: Option<String>,
    /// E.164, or national with `region`.
    phone: Option<String>,
    /// ISO 3166 region for national phone numbers (default `US`).
    region: Option<String>,
    name: Option<String>,
}

async fn register<S: Store>(
    State(svc): State<AppState<S>>,
    Path(t): Path<String>,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CustomerView>)> {
    let t = tenant(&t)?;
    let Json(req) = body?;
    let domain = |e: DomainError| ApiError::Rapport(e.into());
    let region: Region = req
        .region
        .as_deref()
        .unwrap_or("US")
        .parse()
        .map_err(domain)?;
    let profile = Profile {
        email: req
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(domain)?
            .map(Pii::new),
        phone: req
            .phone
            .as_deref()
            .map(|p| Phone::parse(p, region))
            .transpose()
            .map_err(domain)?
            .map(Pii::new),
        display_name: req
            .name
            .as_deref()
            .map(Profile::normalise_name)
            .transpose()
            .map_err(domain)?
            .map(Pii::new),
        ..Profile::default()
    };
    let r = svc.register(t, profile).await?;
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let record = svc.customer(t, r.customer.id()).await?;
    Ok((status, Json(view(&svc, &record, svc.now())?)))
}

/// `GET /tenants/{tenant}/customers/{id}`.
async fn customer<S: Store>(
    State(svc): State<AppState<S>>,
    Path((t, id)): Path<(String, String)>,
) -> ApiResult<Json<CustomerView>> {
    let (t, id) = (tenant(&t)?, customer_id(&id)?);
    let record = svc.customer(t, id).await?;
    Ok(Json(view(&svc, &record, svc.now())?))
}

/// The kinds of activity this API takes (`kind` in the body).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ActivityBody {
    Purchase {
        order_id: String,
        /// A decimal number as a string, e.g. `"24.99"`.
        amount: String,
        currency: String,
        margin: Option<String>,
    },
    Refund {
        order_id: String,
        amount: String,
        currency: String,
        #[serde(default)]
        full: bool,
    },
    Visit {
        item: Option<String>,
    },
    Complaint {
        severity: Severity,
    },
    Contact,
}

/// `POST /tenants/{tenant}/customers/{id}/activities`.
#[derive(Debug, Deserialize)]
struct ActivityRequest {
    #[serde(flatten)]
    body: ActivityBody,
    /// When it happened (default: now).
    at: Option<DateTime<Utc>>,
    /// Default `web`.
    channel: Option<Channel>,
    /// Default: derived from the activity (e.g. `purchase:<order_id>`).
    idempotency_key: Option<String>,
}

fn decimal(field: &str, s: &str) -> ApiResult<Decimal> {
    s.trim()
        .parse()
        .map_err(|_| ApiError::Unprocessable(format!("{field} {s:?} is not a decimal number")))
}

fn money(amount: &str, currency: &str) -> ApiResult<Money> {
    let currency: Currency = currency
        .parse()
        .map_err(|e: DomainError| ApiError::Rapport(e.into()))?;
    Ok(Money::new(decimal("amount", amount)?, currency))
}

impl ActivityRequest {
    fn into_new(self, customer: CustomerId, now: DateTime<Utc>) -> ApiResult<NewActivity> {
        let at = self.at.unwrap_or(now);
        let domain = |e: DomainError| ApiError::Rapport(e.into());
        let mut a = match self.body {
            ActivityBody::Purchase {
                order_id,
                amount,
                currency,
                margin,
            } => {
                let a = NewActivity::purchase(customer, order_id, money(&amount, &currency)?, at)
                    .map_err(domain)?;
                match margin {
                    Some(m) => a.with_margin(decimal("margin", &m)?),
                    None => a,
                }
            }
            ActivityBody::Refund {
                order_id,
                amount,
                currency,
                full,
            } => {
                let money = money(&amount, &currency)?;
                let a = NewActivity::refund(customer, order_id, money, at).map_err(domain)?;
                if full { a.in_full() } else { a }
            }
            ActivityBody::Visit { item } => {
                let a = NewActivity::visit(customer, at).map_err(domain)?;
                match item {
                    Some(i) => a.of_item(i),
                    None => a,
                }
            }
            ActivityBody::Complaint { severity } => {
                NewActivity::complaint(customer, severity, at).map_err(domain)?
            }
            ActivityBody::Contact => NewActivity::contact(customer, at).map_err(domain)?,
        };
        if let Some(channel) = self.channel {
            a = a.via(channel);
        }
        if let Some(key) = self.idempotency_key {
            a = a.with_key(IdempotencyKey::new(key).map_err(domain)?);
        }
        Ok(a)
    }
}

/// What changed because of an activity.
#[derive(Debug, Serialize)]
struct Recorded {
    duplicate: bool,
    customer: CustomerView,
    /// The decisions taken (absent for a repeat), each with its reason.
    decisions: Option<Value>,
}

fn decisions(e: &Evaluation) -> Value {
    json!({
        "tier": { "from": e.tier.from, "to": e.tier.to, "reason": e.tier.reason.to_string() },
        "stage": { "from": e.stage.from, "to": e.stage.to, "reason": e.stage.reason.to_string() },
        "tags_added": e.tags_added.iter()
            .map(|c| json!({ "tag": c.tag.to_string(), "reason": c.reason.to_string() }))
            .collect::<Vec<_>>(),
        "tags_removed": e.tags_removed.iter()
            .map(|c| json!({ "tag": c.tag.to_string(), "reason": c.reason.to_string() }))
            .collect::<Vec<_>>(),
        "events": e.events.iter().map(DomainEvent::name).collect::<Vec<_>>(),
    })
}

async fn record<S: Store>(
    State(svc): State<AppState<S>>,
    Path((t, id)): Path<(String, String)>,
    body: Result<Json<ActivityRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Recorded>)> {
    let (t, id) = (tenant(&t)?, customer_id(&id)?);
    let Json(req) = body?;
    let now = svc.now();
    let rec = svc.record(t, req.into_new(id, now)?).await?;
    let record = svc.customer(t, rec.customer.id()).await?;
    let status = if rec.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(Recorded {
            duplicate: rec.duplicate,
            customer: view(&svc, &record, now)?,
            decisions: rec.evaluation.as_ref().map(decisions),
        }),
    ))
}

/// `GET /tenants/{tenant}/segments`.
#[derive(Debug, Deserialize)]
struct SegmentParams {
    /// The predicate, e.g. `tier >= gold and days_since_last_purchase > 30`.
    q: String,
    /// At most this many ids (default 1,000).
    limit: Option<usize>,
}

/// Page size of segment reads: one page of records is in memory at a time.
const SEGMENT_PAGE: u32 = 500;

async fn segment<S: Store>(
    State(svc): State<AppState<S>>,
    Path(t): Path<String>,
    params: Result<Query<SegmentParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let t = tenant(&t)?;
    let Query(params) = params?;
    let segment = Segment::parse(&params.q).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let limit = params.limit.unwrap_or(1_000);
    let mut ids = Vec::new();
    let mut complete = true;
    let mut pages = std::pin::pin!(svc.find_pages(t, &segment, SEGMENT_PAGE));
    while let Some(page) = pages.next().await {
        for r in page? {
            if ids.len() == limit {
                complete = false;
                break;
            }
            ids.push(r.customer.id());
        }
        if !complete {
            break;
        }
    }
    Ok(Json(json!({
        "q": params.q,
        "count": ids.len(),
        "complete": complete,
        "customers": ids,
    })))
}

/// `POST /tenants/{tenant}/sweep`.
#[derive(Debug, Deserialize)]
struct SweepParams {
    /// Evaluate as of this time (default: now).
    at: Option<DateTime<Utc>>,
    /// Customers per changeset (default 500).
    batch: Option<u32>,
}

async fn sweep<S: Store>(
    State(svc): State<AppState<S>>,
    Path(t): Path<String>,
    params: Result<Query<SweepParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let t = tenant(&t)?;
    let Query(params) = params?;
    let at = params.at.unwrap_or_else(|| svc.now());
    let mut changes = Vec::new();
    let done = svc
        .sweep_with_decisions(t, at, params.batch.unwrap_or(500), |c, e| {
            // A decision that changed something emitted an event for it.
            if !e.events.is_empty() {
                let mut d = decisions(e);
                d["customer"] = json!(c.id());
                changes.push(d);
            }
        })
        .await?;
    Ok(Json(json!({
        "at": at,
        "evaluated": done.evaluated,
        "changed": done.changed,
        "events": done.events,
        "changes": changes,
    })))
}

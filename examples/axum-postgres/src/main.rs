//! The web service: `cargo run -p axum-postgres` (SQLite in `rapport-example.db`), or with
//! `DATABASE_URL=postgres://…` for PostgreSQL. `BIND` sets the address (default
//! `127.0.0.1:3000`); ctrl-c or SIGTERM stops it after the requests in flight.

use axum_postgres::{Backend, shutdown_signal};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let backend = Backend::from_env();
    match &backend {
        // The URL may hold a password: name the schema only.
        Backend::Postgres { schema, .. } => println!("backend: postgres, schema {schema}"),
        Backend::Sqlite { path } => println!("backend: sqlite, {}", path.display()),
    }
    let store = backend.open().await?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    // Tests and scripts read the address from this line (with `BIND=127.0.0.1:0`).
    println!("listening on http://{}", listener.local_addr()?);
    store.serve(listener, shutdown_signal()).await?;
    println!("stopped");
    Ok(())
}

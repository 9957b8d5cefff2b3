//! TLS: `sslmode` from the URL (or `PostgresConfig::with_ssl_mode`), as libpq reads it.
//!
//! A server without TLS (a fake one here: it answers `N` to the TLS request, as PostgreSQL
//! with `ssl = off` does) refuses `require` and the verifying modes with a typed error,
//! quickly. Against the local server: `disable` connects in plain, `prefer` (the default)
//! with TLS when the server has it. The real TLS tests (`require`, `verify-ca`,
//! `verify-full` with the server's certificate as a custom root) run when the server reports
//! `SHOW ssl = on` and its `ssl_cert_file` is readable (Debian's packaged server does, with
//! its self-signed `localhost` "snakeoil" certificate); elsewhere they print a notice and
//! check nothing.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::executor::block_on;
use rapport_core::*;
use rapport_postgres::{PostgresConfig, PostgresError, PostgresStore, SslMode};
use support::{Fresh, unique_schema, url};

/// A server that speaks just enough of the protocol to decline TLS (`N`), then hangs up.
fn no_tls_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        // One connection per mode tried.
        for _ in 0..3 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut request = [0u8; 8];
            if s.read_exact(&mut request).is_ok() {
                let _ = s.write_all(b"N");
            }
            let mut rest = Vec::new();
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read_to_end(&mut rest);
        }
    });
    (format!("postgres://postgres@127.0.0.1:{port}/test"), handle)
}

fn open(
    url: &str,
    adjust: impl FnOnce(PostgresConfig) -> PostgresConfig,
) -> Result<Fresh, PostgresError> {
    let config = adjust(
        PostgresConfig::new(url)
            .with_schema(unique_schema())
            .with_pool_size(2),
    );
    block_on(PostgresStore::connect(config, Utc::now())).map(support::owned)
}

#[test]
fn require_and_the_verifying_modes_refuse_a_server_without_tls() {
    let (base, server) = no_tls_server();
    for mode in ["require", "verify-ca", "verify-full"] {
        let started = Instant::now();
        let err = open(&format!("{base}?sslmode={mode}"), |c| c).unwrap_err();
        let PostgresError::TlsConnect {
            target,
            mode: m,
            reason,
        } = &err
        else {
            panic!("{mode}: {err:?}")
        };
        assert_eq!(m.as_str(), mode);
        assert!(target.starts_with("127.0.0.1:"), "{target}");
        assert!(reason.contains("does not support TLS"), "{reason}");
        assert!(
            err.to_string().contains(&format!("sslmode={mode}")),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{mode}: {:?}",
            started.elapsed()
        );
    }
    server.join().unwrap();
}

/// `prefer` (the default) against a server without TLS falls back to plain: after the `N`,
/// the client's next message is a plaintext protocol-3.0 startup packet naming the user —
/// what a real `ssl = off` server would then authenticate. (The fake server hangs up there,
/// so the connection itself fails; the fallback is what is checked.) `disable` never asks for
/// TLS at all: its first message is the startup packet.
#[test]
fn prefer_falls_back_to_plain_and_disable_never_asks_for_tls() {
    fn first_two_messages(mode: &str) -> (Vec<u8>, Vec<u8>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let read_message = |s: &mut std::net::TcpStream| -> Vec<u8> {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).unwrap();
                let n = u32::from_be_bytes(len) as usize;
                let mut body = vec![0u8; n - 4];
                s.read_exact(&mut body).unwrap();
                body
            };
            let first = read_message(&mut s);
            let second = if first == [0x04, 0xd2, 0x16, 0x2f] {
                // SSLRequest (80877103): decline, as `ssl = off` does.
                s.write_all(b"N").unwrap();
                read_message(&mut s)
            } else {
                Vec::new()
            };
            (first, second)
        });
        let url = format!("postgres://postgres@127.0.0.1:{port}/test?sslmode={mode}");
        assert!(open(&url, |c| c).is_err(), "the fake server cannot log in");
        server.join().unwrap()
    }
    let is_plain_startup = |m: &[u8]| {
        m.len() > 4
            && m[..4] == 196_608u32.to_be_bytes() // protocol 3.0
            && m.windows(14).any(|w| w == b"user\0postgres\0")
    };
    let (first, second) = first_two_messages("prefer");
    assert_eq!(first, [0x04, 0xd2, 0x16, 0x2f], "prefer asks for TLS first");
    assert!(
        is_plain_startup(&second),
        "then starts up in plain: {second:?}"
    );
    let (first, _) = first_two_messages("disable");
    assert!(
        is_plain_startup(&first),
        "disable starts up in plain: {first:?}"
    );
}

#[test]
fn an_unknown_sslmode_is_refused_before_connecting() {
    let err = open(
        "postgres://postgres@127.0.0.1:1/test?sslmode=allow-all",
        |c| c,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PostgresError::InvalidSslMode(m) if m == "allow-all"),
        "{err:?}"
    );
    let err = open("postgres://postgres@127.0.0.1:1/test", |c| {
        c.with_ssl_mode(SslMode::VerifyFull)
            .with_root_certificate(b"junk".to_vec())
    })
    .unwrap_err();
    assert!(matches!(&err, PostgresError::Tls(_)), "{err:?}");
}

fn on_runtime<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// `SHOW ssl` and the server certificate's PEM, when readable.
fn server_tls() -> (bool, Option<Vec<u8>>) {
    on_runtime(async {
        let su = support::role::connect(None).await;
        let on: String = su.query_one("SHOW ssl", &[]).await.unwrap().get(0);
        let file: String = su
            .query_one("SHOW ssl_cert_file", &[])
            .await
            .unwrap()
            .get(0);
        (on == "on", std::fs::read(file).ok())
    })
}

/// Whether the store's connections (named `app` in `pg_stat_activity`) use TLS: one answer
/// per connection.
fn tls_of(app: &str) -> Vec<bool> {
    on_runtime(async {
        let su = support::role::connect(None).await;
        su.query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    })
}

/// Opens a store on `url` + `params` under a unique application name, checks it works, and
/// returns whether its connections use TLS.
fn connects(
    url: &str,
    params: &str,
    adjust: impl FnOnce(PostgresConfig) -> PostgresConfig,
) -> Result<bool, PostgresError> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let app = format!(
        "rapport_tls_{}_{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    let fresh = open(&format!("{url}{sep}application_name={app}{params}"), adjust)?;
    let store = &fresh.inner;
    let t = TenantId::from_u128(1);
    let c = Customer::new(t, CustomerId::from_u128(1), Profile::default(), Utc::now());
    let mut cs = Changeset::new();
    cs.create(c, Stats::default());
    block_on(store.apply(t, &cs)).unwrap();
    assert!(
        block_on(store.load(t, CustomerId::from_u128(1)))
            .unwrap()
            .is_some()
    );
    let tls = tls_of(&app);
    assert!(!tls.is_empty(), "the store's connections are listed");
    assert!(tls.iter().all(|s| *s == tls[0]), "{tls:?}");
    Ok(tls[0])
}

#[test]
fn disable_connects_in_plain_and_prefer_with_tls_when_the_server_has_it() {
    let (on, _) = server_tls();
    assert!(!connects(&url(), "&sslmode=disable", |c| c).unwrap());
    assert_eq!(
        connects(&url(), "", |c| c).unwrap(),
        on,
        "the default is prefer"
    );
    assert_eq!(connects(&url(), "&sslmode=prefer", |c| c).unwrap(), on);
    // The config's mode wins over the URL's.
    assert!(
        !connects(&url(), "&sslmode=require", |c| c
            .with_ssl_mode(SslMode::Disable))
        .unwrap()
    );
}

#[test]
fn require_verify_ca_and_verify_full_connect_with_tls_to_a_tls_server() {
    let (on, cert) = server_tls();
    let (true, Some(cert)) = (on, cert) else {
        let _ = writeln!(
            std::io::stderr(),
            "rapport-postgres: the server has no TLS (SHOW ssl = off) or its certificate is unreadable: real TLS test skipped"
        );
        return;
    };
    assert!(connects(&url(), "&sslmode=require", |c| c).unwrap());
    // The server's (self-signed) certificate as a custom root: the chain checks.
    let with_root = |c: PostgresConfig| c.with_root_certificate(cert.clone());
    assert!(connects(&url(), "&sslmode=verify-ca", with_root).unwrap());
    // Without it, the chain does not: a typed refusal.
    let err = connects(&url(), "&sslmode=verify-ca", |c| c).unwrap_err();
    assert!(
        matches!(
            &err,
            PostgresError::TlsConnect {
                mode: SslMode::VerifyCa,
                ..
            }
        ),
        "{err:?}"
    );
    // `verify-full` also checks the name: the certificate names `localhost`, not the IP.
    let local = url().replace("@127.0.0.1:", "@localhost:");
    if local != url() {
        assert!(connects(&local, "&sslmode=verify-full", with_root).unwrap());
        let err = connects(&url(), "&sslmode=verify-full", with_root).unwrap_err();
        assert!(
            matches!(&err, PostgresError::TlsConnect { mode: SslMode::VerifyFull, reason, .. } if reason.contains("certificate")),
            "{err:?}"
        );
    }
    // `sslrootcert=<file>` in the URL works as the custom root does.
    let path = std::env::temp_dir().join(format!("rapport_root_{}.pem", std::process::id()));
    std::fs::write(&path, &cert).unwrap();
    let ok = connects(
        &url(),
        &format!("&sslmode=verify-ca&sslrootcert={}", path.display()),
        |c| c,
    );
    let _ = std::fs::remove_file(&path);
    assert!(ok.unwrap());
}

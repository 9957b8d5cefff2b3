//! TLS to the server, with rustls (through `tokio-postgres-rustls`, on the `ring` crypto
//! provider, no process-wide provider needed), chosen by `sslmode` as libpq chooses it.
//!
//! | `sslmode` | TLS | certificate checked | host name checked |
//! |---|---|---|---|
//! | `disable` | never | – | – |
//! | `prefer` (default) | when the server offers it, else plain | no | no |
//! | `require` | always (a server without TLS is refused) | no | no |
//! | `verify-ca` | always | chain to a trusted root | no |
//! | `verify-full` | always | chain to a trusted root | yes |
//!
//! Trusted roots: the Mozilla roots (`webpki-roots`), the certificates given with
//! [`crate::PostgresConfig::with_root_certificate`], and the PEM file named by `sslrootcert`
//! in the URL. `prefer` and `require` encrypt without authenticating the server (as libpq
//! does): use `verify-full` against a network you do not control.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::PostgresError;

/// How the store secures its connections (libpq's `sslmode`). Read from the URL
/// (`?sslmode=verify-full`), or set with [`crate::PostgresConfig::with_ssl_mode`], which
/// wins over the URL. The default is libpq's, [`SslMode::Prefer`].
///
/// ```
/// use rapport_postgres::SslMode;
/// assert_eq!("verify-full".parse::<SslMode>().ok(), Some(SslMode::VerifyFull));
/// assert_eq!(SslMode::default(), SslMode::Prefer);
/// assert!("allow-anything".parse::<SslMode>().is_err());
/// assert_eq!(SslMode::VerifyCa.as_str(), "verify-ca");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SslMode {
    /// Plain connections only.
    Disable,
    /// TLS when the server offers it, else plain; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS, with the server's certificate chained to a trusted root (any host name).
    VerifyCa,
    /// TLS, with the server's certificate chained to a trusted root and naming the host
    /// connected to.
    VerifyFull,
}

impl SslMode {
    /// The `sslmode` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SslMode {
    type Err = PostgresError;

    /// libpq's values; `allow` (plain first, TLS if the server insists) is not offered.
    fn from_str(s: &str) -> Result<Self, PostgresError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(PostgresError::InvalidSslMode(other.to_owned())),
        })
    }
}

/// Takes parameter `key` out of a libpq URL (`…?a=1&key=v`) or key-value string
/// (`host=h key=v`): the rest and the value.
pub(crate) fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let prefix = format!("{key}=");
    if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None);
        };
        let mut value = None;
        let rest: Vec<&str> = query
            .split('&')
            .filter(|kv| match kv.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(v.to_owned());
                    false
                }
                None => !kv.is_empty(),
            })
            .collect();
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        (url, value)
    } else {
        let mut value = None;
        let rest: Vec<&str> = url
            .split_whitespace()
            .filter(|kv| match kv.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(v.trim_matches('\'').to_owned());
                    false
                }
                None => true,
            })
            .collect();
        (rest.join(" "), value)
    }
}

/// The roots a verifying mode trusts: the Mozilla roots, `extra` (PEM) and the PEM file
/// `root_file`.
fn roots(extra: &[Vec<u8>], root_file: Option<&str>) -> Result<RootCertStore, PostgresError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut add = |pem: &[u8], origin: &str| -> Result<(), PostgresError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PostgresError::Tls(format!("{origin}: {e}")))?;
        if certs.is_empty() {
            return Err(PostgresError::Tls(format!(
                "{origin}: no PEM certificate in it"
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| PostgresError::Tls(format!("{origin}: {e}")))?;
        }
        Ok(())
    };
    for (i, pem) in extra.iter().enumerate() {
        add(pem, &format!("root certificate {i}"))?;
    }
    if let Some(path) = root_file {
        let pem = std::fs::read(path)
            .map_err(|e| PostgresError::Tls(format!("sslrootcert `{path}`: {e}")))?;
        add(&pem, &format!("sslrootcert `{path}`"))?;
    }
    Ok(roots)
}

/// The connector for `mode` (`None`: plain connections, [`SslMode::Disable`]).
pub(crate) fn connector(
    mode: SslMode,
    extra_roots: &[Vec<u8>],
    root_file: Option<&str>,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, PostgresError> {
    // `ring`, not `aws-lc-rs`: it builds without cmake and a C toolchain beyond `cc`. rustls
    // 0.23.48 marks it deprecated because it has no post-quantum key exchange; the classical
    // groups (X25519, P-256, P-384) are what PostgreSQL's OpenSSL offers anyway.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable => return Ok(None),
        SslMode::Prefer | SslMode::Require => Arc::new(Unverified(Arc::clone(&provider))),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let webpki = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(extra_roots, root_file)?),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| PostgresError::Tls(e.to_string()))?;
            if mode == SslMode::VerifyCa {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PostgresError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// `prefer` / `require`: any certificate is accepted (libpq's behaviour for these modes),
/// the handshake's signatures are still checked, so the session is encrypted end to end
/// with whoever holds the presented certificate's key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked as `verify-full` checks it, a certificate for another
/// name is accepted.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_taken_out_of_a_url_and_a_key_value_string() {
        assert_eq!(
            take_param("postgres://u@h/db?sslmode=verify-full&schema=s", "sslmode"),
            (
                "postgres://u@h/db?schema=s".to_owned(),
                Some("verify-full".to_owned())
            )
        );
        assert_eq!(
            take_param("postgres://u@h/db?sslmode=require", "sslmode"),
            ("postgres://u@h/db".to_owned(), Some("require".to_owned()))
        );
        assert_eq!(
            take_param("postgres://u@h/db", "sslmode"),
            ("postgres://u@h/db".to_owned(), None)
        );
        assert_eq!(
            take_param("host=h sslmode=disable user=u", "sslmode"),
            ("host=h user=u".to_owned(), Some("disable".to_owned()))
        );
    }

    #[test]
    fn a_root_certificate_that_is_not_pem_is_refused() {
        let err = roots(&[b"not a certificate".to_vec()], None).unwrap_err();
        assert!(
            matches!(&err, PostgresError::Tls(r) if r.contains("root certificate 0")),
            "{err}"
        );
        let err = roots(&[], Some("/nonexistent/root.pem")).unwrap_err();
        assert!(matches!(&err, PostgresError::Tls(r) if r.contains("sslrootcert")));
    }

    #[test]
    fn every_mode_builds_a_connector_and_disable_none() {
        assert!(matches!(connector(SslMode::Disable, &[], None), Ok(None)));
        for mode in [
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert!(matches!(connector(mode, &[], None), Ok(Some(_))), "{mode}");
        }
    }
}

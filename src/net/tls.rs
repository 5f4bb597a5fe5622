//! One rustls setup for every TLS connection we make (HTTPS, WSS, DERP over TLS, PostgreSQL):
//! the system trust store plus `--ca-cert` roots.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::report::TlsProblem;

/// Trust roots and the client configs built from them. The system store is read on first use:
/// reading it costs milliseconds (a file per certificate where `SSL_CERT_DIR` is set), and a run
/// against plain-HTTP peers needs none of it.
#[derive(Clone, Debug)]
pub struct Tls {
    /// The `--ca-cert` roots, read and checked at start-up (a bad file is a usage error).
    extra: Arc<Vec<CertificateDer<'static>>>,
    loaded: Arc<OnceLock<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    roots: Arc<RootCertStore>,
    config: Arc<ClientConfig>,
    /// The same, with ALPN `http/1.1` (for upgrades that must not negotiate h2).
    http1: Arc<ClientConfig>,
}

impl Tls {
    /// System roots plus the PEM files given with `--ca-cert`. A named file without certificates
    /// is an error; a system store that cannot be read only means fewer roots.
    pub fn new(extra_ca: &[PathBuf]) -> Result<Tls, String> {
        let mut extra = Vec::new();
        let mut check = RootCertStore::empty();
        for path in extra_ca {
            for cert in read_pem_certs(path)? {
                check.add(cert.clone()).map_err(|e| {
                    format!("--ca-cert {}: unusable certificate: {e}", path.display())
                })?;
                extra.push(cert);
            }
        }
        Ok(Tls {
            extra: Arc::new(extra),
            loaded: Arc::new(OnceLock::new()),
        })
    }

    fn loaded(&self) -> &Loaded {
        self.loaded.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots.add_parsable_certificates(self.extra.iter().cloned());
            let roots = Arc::new(roots);
            // Without roots (no system store, no --ca-cert) webpki refuses to build; every
            // certificate is then of an unknown issuer, which the empty store says anyway.
            let verifier: Arc<dyn ServerCertVerifier> =
                match WebPkiServerVerifier::builder(roots.clone()).build() {
                    Ok(webpki) => Arc::new(ChainVerifier {
                        webpki,
                        names: true,
                    }),
                    Err(_) => Arc::new(NoRoots),
                };
            let config = Arc::new(
                ClientConfig::builder()
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth(),
            );
            let mut http1 = (*config).clone();
            http1.alpn_protocols = vec![b"http/1.1".to_vec()];
            Loaded {
                roots,
                config,
                http1: Arc::new(http1),
            }
        })
    }

    /// The system roots and `--ca-cert`'s.
    pub fn roots(&self) -> Arc<RootCertStore> {
        self.loaded().roots.clone()
    }

    /// The client config for HTTPS.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.loaded().config.clone()
    }

    /// The same roots, with ALPN `http/1.1` (for upgrades that must not negotiate h2).
    pub fn http1_config(&self) -> Arc<ClientConfig> {
        self.loaded().http1.clone()
    }

    /// Only the given roots (PostgreSQL's `sslrootcert`), no system store.
    pub fn roots_from_file(path: &Path) -> Result<Arc<RootCertStore>, String> {
        let mut roots = RootCertStore::empty();
        for cert in read_pem_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: unusable certificate: {e}", path.display()))?;
        }
        Ok(Arc::new(roots))
    }
}

/// CA bundles are a few hundred KiB at most (the whole Mozilla set is about 200 KiB).
const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = crate::files::read_regular_bytes(path, MAX_PEM_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificates found", path.display()));
    }
    Ok(certs)
}

/// How much of the server certificate to check (libpq's sslmode levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Encrypt only (`require`, `prefer`, `allow`).
    None,
    /// Chain to a trusted root, any host name (`verify-ca`).
    ChainOnly,
    /// Chain and host name (`verify-full`).
    Full,
}

/// A client certificate and its key (PostgreSQL's `sslcert`/`sslkey`).
pub struct ClientCert {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: rustls::pki_types::PrivateKeyDer<'static>,
}

pub fn config_with(
    roots: Arc<RootCertStore>,
    verification: Verification,
    client_cert: Option<ClientCert>,
) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder();
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::Full | Verification::ChainOnly => Arc::new(ChainVerifier {
            webpki: WebPkiServerVerifier::builder(roots)
                .build()
                .map_err(|e| format!("cannot use the trust roots: {e}"))?,
            names: verification == Verification::Full,
        }),
        Verification::None => Arc::new(AnyCertificate),
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match client_cert {
        Some(ClientCert { certs, key }) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| format!("sslcert/sslkey: {e}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Accepts any certificate (libpq's `require`). Handshake signatures are always verified.
#[derive(Debug)]
struct AnyCertificate;

/// webpki's verdict, with two additions: host names are not checked when `names` is false
/// (libpq's `verify-ca`), and an unknown issuer says what the server sent (`UnknownIssuer`),
/// so a missing intermediate can be told from an untrusted CA.
#[derive(Debug)]
struct ChainVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    names: bool,
}

/// A trust store without a single root: every chain ends at an unknown issuer.
#[derive(Debug)]
struct NoRoots;

/// What the server sent when its chain led to no trusted root. It travels inside rustls's error
/// (`CertificateError::Other`), so the kind of failure reaches the check as data.
#[derive(Debug)]
pub struct UnknownIssuer {
    /// Certificates sent besides the leaf.
    pub intermediates: usize,
    /// The leaf names itself as its issuer (a self-signed certificate).
    pub self_issued: bool,
    /// The leaf's issuer, as a distinguished name.
    pub issuer: String,
}

impl std::fmt::Display for UnknownIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnknownIssuer")
    }
}

impl std::error::Error for UnknownIssuer {}

impl UnknownIssuer {
    fn of(end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> rustls::Error {
        use x509_cert::der::Decode;
        let (self_issued, issuer) = match x509_cert::Certificate::from_der(end_entity) {
            Ok(cert) => (
                cert.tbs_certificate.issuer == cert.tbs_certificate.subject,
                cert.tbs_certificate.issuer.to_string(),
            ),
            Err(_) => (false, String::new()),
        };
        rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
            UnknownIssuer {
                intermediates: intermediates.len(),
                self_issued,
                issuer,
            },
        ))))
    }
}

/// The unknown-issuer details inside a certificate error, if that is what it is.
pub fn unknown_issuer(err: &CertificateError) -> Option<&UnknownIssuer> {
    match err {
        CertificateError::Other(other) => other.0.downcast_ref::<UnknownIssuer>(),
        _ => None,
    }
}

fn signature_algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

/// Our verifiers differ in what they make of the certificate, never in the handshake's
/// signatures: those are always checked, with the provider's algorithms.
macro_rules! handshake_signatures_checked {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &signature_algorithms())
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &signature_algorithms())
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            signature_algorithms().supported_schemes()
        }
    };
}

impl ServerCertVerifier for AnyCertificate {
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

    handshake_signatures_checked!();
}

impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                Err(UnknownIssuer::of(end_entity, intermediates))
            }
            other => other,
        }
    }

    handshake_signatures_checked!();
}

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(UnknownIssuer::of(end_entity, intermediates))
    }

    handshake_signatures_checked!();
}

/// For reading certificates only, never for a check's own connection: accepts any server
/// certificate and keeps the leaf, so an expired or untrusted one can still be read.
#[derive(Debug, Default)]
pub struct RecordingVerifier {
    leaf: std::sync::Mutex<Option<CertificateDer<'static>>>,
}

impl RecordingVerifier {
    /// A client config that records the leaf into the returned verifier.
    pub fn config() -> (Arc<ClientConfig>, Arc<RecordingVerifier>) {
        let verifier = Arc::new(RecordingVerifier::default());
        let mut config = ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        (Arc::new(config), verifier)
    }

    /// The leaf the server presented, if the handshake got that far.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.leaf.lock().ok().and_then(|l| l.clone())
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut leaf) = self.leaf.lock() {
            *leaf = Some(end_entity.clone().into_owned());
        }
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures_checked!();
}

/// A client config that accepts any certificate (a local listener, whose certificate is issued
/// for the access URL's name; nothing is concluded from it).
pub fn unverified_config() -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier::default()))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Says in plain words why a TLS connection failed.
pub fn describe_tls_error(err: &rustls::Error) -> String {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(cert) => {
            let why = match cert {
                other if unknown_issuer(other).is_some() => {
                    "certificate signed by an unknown authority (add its CA with --ca-cert)"
                        .to_string()
                }
                CertificateError::UnknownIssuer => {
                    "certificate signed by an unknown authority (add its CA with --ca-cert)"
                        .to_string()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "certificate is not valid for this host name".to_string()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "certificate has expired".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "certificate is not valid yet (check the clocks)".to_string()
                }
                CertificateError::Revoked => "certificate has been revoked".to_string(),
                CertificateError::BadEncoding => "certificate is malformed".to_string(),
                // webpki's reasons arrive as `Other`; name the ones a misconfiguration causes.
                other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                    "the server's certificate is a CA certificate, not a server certificate \
                     (configure the server with a certificate issued by that CA)"
                        .to_string()
                }
                other if format!("{other:?}").contains("EndEntityUsedAsCa") => {
                    "the server's chain uses a server certificate as a CA".to_string()
                }
                other if format!("{other:?}").contains("UnsupportedCertVersion") => {
                    "the server's certificate is not an X.509 v3 certificate".to_string()
                }
                other => format!("certificate rejected: {other}"),
            };
            format!("TLS certificate verification failed: {why}")
        }
        E::AlertReceived(alert) => format!("TLS handshake failed: the server sent alert {alert:?}"),
        // A plain-text answer to our ClientHello: its first byte is not a TLS record type.
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "TLS handshake failed: the server answered in plain text, not TLS; it looks like a \
             plain-HTTP port (for an https:// URL, try http:// instead, or the server's TLS port)"
                .to_string()
        }
        E::InvalidMessage(
            rustls::InvalidMessage::HandshakePayloadTooLarge
            | rustls::InvalidMessage::CertificatePayloadTooLarge
            | rustls::InvalidMessage::MessageTooLarge,
        ) => "TLS handshake failed: the server's handshake message (its certificate chain) is \
              larger than TLS clients accept (64 KiB); use a certificate with a shorter subject \
              and fewer names, or a shorter chain"
            .to_string(),
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => {
            format!("TLS handshake failed: the server did not speak TLS properly ({err})")
        }
        other => format!("TLS error: {other}"),
    }
}

/// Finds a rustls error anywhere in an error's source chain (io errors wrap them).
pub fn find_tls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return Some(tls);
                }
            }
        }
        current = e.source();
    }
    None
}

/// The kind of a TLS failure, as evidence: an unknown issuer split by what the server sent (its
/// leaf alone, not self-signed: the intermediate is missing; else a CA this host does not
/// trust), the validity dates when rustls gives them, a name mismatch, a peer that does not
/// speak TLS.
pub fn tls_problem(err: &rustls::Error) -> TlsProblem {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsProblem::Untrusted { issuer: None },
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::NameMismatch
            }
            CertificateError::Expired => TlsProblem::Expired { not_after: None },
            CertificateError::ExpiredContext { not_after, .. } => TlsProblem::Expired {
                not_after: rfc3339(*not_after),
            },
            CertificateError::NotValidYet => TlsProblem::NotYetValid { not_before: None },
            CertificateError::NotValidYetContext { not_before, .. } => TlsProblem::NotYetValid {
                not_before: rfc3339(*not_before),
            },
            other => match unknown_issuer(other) {
                Some(seen) if seen.intermediates == 0 && !seen.self_issued => {
                    TlsProblem::IncompleteChain {
                        issuer: seen.issuer.clone(),
                    }
                }
                Some(seen) => TlsProblem::Untrusted {
                    issuer: Some(seen.issuer.clone()),
                },
                None => TlsProblem::Other {
                    detail: describe_tls_error(err),
                },
            },
        },
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => TlsProblem::NotTls,
        _ => TlsProblem::Other {
            detail: describe_tls_error(err),
        },
    }
}

fn rfc3339(at: UnixTime) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(at.as_secs() as i64).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(e: CertificateError) -> rustls::Error {
        rustls::Error::InvalidCertificate(e)
    }

    #[test]
    fn tls_problems_keep_their_kind_and_dates() {
        let not_after = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_798_859_045));
        assert_eq!(
            tls_problem(&cert(CertificateError::ExpiredContext {
                time: UnixTime::now(),
                not_after,
            })),
            TlsProblem::Expired {
                not_after: Some("2027-01-02T03:04:05Z".to_string())
            }
        );
        assert_eq!(
            tls_problem(&cert(CertificateError::NotValidForName)),
            TlsProblem::NameMismatch
        );
        let leaf_only = |self_issued, intermediates| {
            cert(CertificateError::Other(rustls::OtherError(Arc::new(
                UnknownIssuer {
                    intermediates,
                    self_issued,
                    issuer: "CN=R11".to_string(),
                },
            ))))
        };
        assert_eq!(
            tls_problem(&leaf_only(false, 0)),
            TlsProblem::IncompleteChain {
                issuer: "CN=R11".to_string()
            }
        );
        assert!(matches!(
            tls_problem(&leaf_only(true, 0)),
            TlsProblem::Untrusted { .. }
        ));
        assert!(matches!(
            tls_problem(&leaf_only(false, 1)),
            TlsProblem::Untrusted { .. }
        ));
        // The words stay those of an unknown authority either way.
        assert!(describe_tls_error(&leaf_only(false, 0)).contains("unknown authority"));
        assert_eq!(
            tls_problem(&rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            )),
            TlsProblem::NotTls
        );
    }
}

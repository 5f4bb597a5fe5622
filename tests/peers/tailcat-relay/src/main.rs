//! `tailcat-relay MAP CERT`: starts tailcat's loopback DERP relay, writes a DERP map for it (node
//! host name `localhost`, the name its certificate is for) to MAP and the relay's self-signed
//! certificate (PEM) to CERT, prints one `ready` line, and serves until it is killed.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [map_path, cert_path] = args.as_slice() else {
        bail!("usage: tailcat-relay MAP_OUT.json CERT_OUT.pem");
    };
    let (mut region, _guard) = tailcat::derp::start_local_relay()
        .await
        .context("start tailcat's local relay")?;
    let port = region
        .nodes
        .first()
        .context("tailcat's region has no node")?
        .derp_port;
    let port = u16::try_from(port).context("tailcat's node has no usable port")?;

    // tailcat keeps its certificate to itself: take it from a TLS handshake with the relay.
    let cert = tokio::task::spawn_blocking(move || fetch_certificate(port)).await??;
    std::fs::write(cert_path, pem(&cert)).with_context(|| format!("write {cert_path}"))?;

    // The certificate names `localhost`; tailcat's map says 127.0.0.1 and InsecureForTests, so the
    // client under test must check the certificate against the name it dials.
    for node in &mut region.nodes {
        node.host_name = "localhost".into();
        node.insecure_for_tests = false;
    }
    let id = region.region_id.to_string();
    let map = serde_json::json!({ "Regions": { id: region } });
    std::fs::write(map_path, serde_json::to_vec_pretty(&map)?)
        .with_context(|| format!("write {map_path}"))?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "tailcat-relay ready on 127.0.0.1:{port}")?;
    out.flush()?;
    drop(out);
    std::future::pending::<()>().await;
    Ok(())
}

/// The leaf certificate the relay presents, read without verifying it.
fn fetch_certificate(port: u16) -> Result<CertificateDer<'static>> {
    let provider = Arc::new(ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut tls =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost")?)?;
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp)
            .context("TLS handshake with tailcat's relay")?;
    }
    let chain = tls
        .peer_certificates()
        .context("tailcat's relay sent no certificate")?;
    Ok(chain
        .first()
        .context("empty certificate chain")?
        .clone()
        .into_owned())
}

fn pem(cert: &CertificateDer<'_>) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Accepts any certificate (signatures still checked): only to read what the relay presents.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        verify_tls12_signature(
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
        verify_tls13_signature(
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

//! TLS on the soliciting side of a leafnode link (spec `leafnode.md`
//! §3.10, §5.2): the rustls client configuration of a remote's `tls { … }`
//! block, the blocking client handshake its dialer runs, and nats-server's
//! wording of a failure (`doTLSHandshake`: `TLS leafnode handshake error:
//! <Go crypto/tls error>[ (<subject> SHA-256: <hex>; …)]`).
//!
//! When a remote runs TLS (nats-server `leafNodeGetTLSConfigForSolicit`):
//! it has a `tls { … }` block, or a `wss://` URL, or the hub's first INFO
//! says `tls_required`. Without a block, the system's trust anchors verify
//! the hub, as Go's default `tls.Config`.

use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::options::TlsConfig;
use crate::tls::{KeyPairError, TlsError};

/// nats-server `DEFAULT_LEAF_TLS_TIMEOUT`: 2 s.
pub(crate) const DEFAULT_LEAF_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// A remote's TLS client settings, built once per dialer.
#[derive(Debug, Clone)]
pub(crate) struct ClientTls {
    /// The rustls configuration (trust anchors, client certificate).
    config: Arc<ClientConfig>,
    /// The certificates the hub presented in the latest handshake (for
    /// the failure's detail).
    verifier: Arc<Verifier>,
    /// The handshake timeout (`tls { timeout }`, default 2 s).
    timeout: Duration,
}

/// How the hub's certificate is checked.
#[derive(Debug)]
enum Check {
    /// Against the trust anchors (`ca_file`, else the system's).
    Verify(Arc<WebPkiServerVerifier>),
    /// `insecure: true`: any chain, any name (signatures still checked).
    Insecure,
    /// No trust anchor at all: every chain is from an unknown authority.
    NoRoots,
}

/// Server certificate verifier that remembers what the hub presented.
#[derive(Debug)]
struct Verifier {
    check: Check,
    provider: Arc<CryptoProvider>,
    presented: Mutex<Vec<CertificateDer<'static>>>,
    /// Go's text of the latest verification failure, and whether it was
    /// the name that did not match.
    failure: Mutex<Option<(String, bool)>>,
}

impl Verifier {
    /// Keeps Go's text of a verification failure and answers with the
    /// error whose alert is `bad certificate`, as Go's client sends for any
    /// verification failure.
    fn failed(&self, e: rustls::Error) -> rustls::Error {
        let name = matches!(
            e,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            )
        );
        *self.failure.lock().expect("failure") = Some((go_client_error(&e), name));
        rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.presented.lock().expect("presented") = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        match &self.check {
            Check::Verify(v) => v
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| self.failed(e)),
            Check::Insecure => Ok(ServerCertVerified::assertion()),
            Check::NoRoots => Err(self.failed(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))),
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The system's trust anchors (what Go's `x509.SystemCertPool` finds).
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    roots
}

impl ClientTls {
    /// Builds the client settings of a remote's `tls { … }` block (`None`:
    /// a `wss://` URL or a hub requiring TLS without a block: system trust
    /// anchors, no client certificate, TLS 1.2 and up).
    ///
    /// # Errors
    /// nats-server's `GenTLSConfig` texts ([`TlsError`]): unreadable or
    /// malformed `ca_file`, `cert_file` without `key_file` (or the
    /// reverse), a pair that does not match, a bad `min_version`.
    pub(crate) fn new(cfg: Option<&TlsConfig>) -> Result<ClientTls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = crate::tls::protocol_versions(cfg.and_then(|c| c.min_version.as_deref()))?;
        let check = if cfg.is_some_and(|c| c.insecure) {
            Check::Insecure
        } else {
            let roots = match cfg.and_then(|c| c.ca_file.as_ref()) {
                Some(ca) => crate::tls::load_roots(ca)?,
                None => system_roots(),
            };
            if roots.is_empty() {
                Check::NoRoots
            } else {
                let v =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| TlsError::Protocol(rustls::Error::General(e.to_string())))?;
                Check::Verify(v)
            }
        };
        let verifier = Arc::new(Verifier {
            check,
            provider: provider.clone(),
            presented: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(TlsError::Protocol)?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let pair = match cfg.map(|c| (&c.cert_file, &c.key_file)) {
            Some((Some(c), Some(k))) => Some(crate::tls::load_pair(c, k)?),
            Some((Some(_), None)) => return Err(TlsError::MissingKeyFile),
            Some((None, Some(_))) => return Err(TlsError::MissingCertFile),
            _ => None,
        };
        let config = match pair {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => KeyPairError::KeyMismatch,
                    e => KeyPairError::Rustls(e),
                })
                .map_err(TlsError::KeyPair)?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            config: Arc::new(config),
            verifier,
            timeout: cfg
                .and_then(|c| c.timeout)
                .filter(|t| !t.is_zero())
                .unwrap_or(DEFAULT_LEAF_TLS_TIMEOUT),
        })
    }

    /// Runs the client handshake on the blocking socket `sock` within the
    /// timeout, presenting `name` (the URL's host: SNI for a DNS name, the
    /// IP SAN for an address). `early` holds bytes already read from the
    /// socket that belong to the TLS stream. Returns the session and the
    /// plaintext the hub sent with its last handshake flight.
    ///
    /// # Errors
    /// The failure in nats-server's wording ([`HandshakeError`]); the
    /// alert owed to the hub has been sent.
    pub(crate) fn handshake(
        &self,
        sock: &mut TcpStream,
        name: ServerName<'static>,
        early: &[u8],
    ) -> Result<(ClientConnection, Vec<u8>), HandshakeError> {
        let mut conn = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| HandshakeError::Failed(e.to_string()))?;
        if !early.is_empty() {
            let mut r = early;
            while !r.is_empty() {
                if conn.read_tls(&mut r).is_err() {
                    break;
                }
            }
        }
        let until = Instant::now() + self.timeout;
        while conn.is_handshaking() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HandshakeError::Timeout);
            }
            let _ = sock.set_read_timeout(Some(left));
            let _ = sock.set_write_timeout(Some(left));
            if let Err(e) = conn.complete_io(sock) {
                return Err(self.describe(&e));
            }
        }
        let _ = sock.set_read_timeout(None);
        let _ = sock.set_write_timeout(None);
        let mut plain = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match conn.reader().read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => plain.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        Ok((conn, plain))
    }

    /// nats-server's text of a failed handshake: Go's crypto/tls error and,
    /// for a certificate that did not verify, the presented chain.
    fn describe(&self, e: &io::Error) -> HandshakeError {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            return HandshakeError::Timeout;
        }
        let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
            return HandshakeError::Failed(match e.kind() {
                io::ErrorKind::UnexpectedEof => "EOF".into(),
                io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
                _ => e.to_string(),
            });
        };
        let mut text = go_client_error(tls);
        let mut name_mismatch = false;
        if matches!(tls, rustls::Error::InvalidCertificate(_)) {
            if let Some((t, name)) = self.verifier.failure.lock().expect("failure").take() {
                text = t;
                name_mismatch = name;
            }
            let presented = self.verifier.presented.lock().expect("presented");
            let subjects: Vec<String> = presented.iter().map(|c| describe_cert(c)).collect();
            if !subjects.is_empty() {
                text.push_str(&format!(" ({})", subjects.join("; ")));
            }
        }
        if name_mismatch {
            HandshakeError::NameMismatch(text)
        } else {
            HandshakeError::Failed(text)
        }
    }
}

/// What a completed client session negotiated (connz `tls_version`,
/// `tls_cipher_suite`), in Go's names.
pub(crate) fn session_info(conn: &ClientConnection) -> crate::tls::TlsInfo {
    crate::tls::TlsInfo {
        version: conn
            .protocol_version()
            .map(crate::tls::version_name)
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|c| crate::tls::cipher_name(c.suite()))
            .unwrap_or_default(),
        ..crate::tls::TlsInfo::default()
    }
}

/// `<subject DN> SHA-256: <hex of the DER>`, as nats-server lists the
/// certificates of a failed verification.
fn describe_cert(der: &CertificateDer<'_>) -> String {
    let subject = x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| crate::tls::go_dn(c.subject()))
        .unwrap_or_default();
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{subject} SHA-256: {hex}")
}

/// Go crypto/tls's client-side wording of common rustls failures.
fn go_client_error(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error};
    let verify = "tls: failed to verify certificate: x509:";
    match e {
        // A CA of the same name whose key did not sign it: Go too says
        // unknown authority (with the candidate's details after it).
        Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            format!("{verify} certificate signed by unknown authority")
        }
        Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            format!("{verify} certificate has expired or is not yet valid")
        }
        Error::InvalidCertificate(C::NotValidForNameContext {
            expected,
            presented,
        }) => {
            format!(
                "{verify} {}",
                go_hostname_error(&expected.to_str(), presented)
            )
        }
        Error::InvalidCertificate(C::NotValidForName) => {
            format!("{verify} certificate is not valid for the requested name")
        }
        Error::AlertReceived(a) => {
            let name = match a {
                A::BadCertificate => "bad certificate".to_string(),
                A::CertificateRequired => "certificate required".to_string(),
                A::UnknownCA => "unknown certificate authority".to_string(),
                A::HandshakeFailure => "handshake failure".to_string(),
                A::ProtocolVersion => "protocol version not supported".to_string(),
                a => format!("{a:?}"),
            };
            format!("remote error: tls: {name}")
        }
        Error::InvalidMessage(_) => "tls: first record does not look like a TLS handshake".into(),
        e => e.to_string(),
    }
}

/// Go's `x509.HostnameError` text (after `x509: `) for `host` and the
/// names the certificate carries (DNS names and IP addresses, as rustls
/// lists them): the IP SANs for an address, else the DNS names.
fn go_hostname_error(host: &str, presented: &[String]) -> String {
    let is_ip = |n: &String| n.parse::<std::net::IpAddr>().is_ok();
    let valid: Vec<&String> = if host.parse::<std::net::IpAddr>().is_ok() {
        let ips: Vec<&String> = presented.iter().filter(|n| is_ip(n)).collect();
        if ips.is_empty() {
            return format!(
                "cannot validate certificate for {host} because it doesn't contain any IP SANs"
            );
        }
        ips
    } else {
        presented.iter().filter(|n| !is_ip(n)).collect()
    };
    if valid.is_empty() {
        return format!("certificate is not valid for any names, but wanted to match {host}");
    }
    let valid: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
    format!("certificate is valid for {}, not {host}", valid.join(", "))
}

/// The name the hub's certificate must carry: the URL's host (an IP
/// address matches an IP SAN), or `tls_name` (a host name from another of
/// the remote's URLs) when the host is an address, as nats-server's
/// `saveTLSHostname`.
pub(crate) fn server_name(host: &str, tls_name: Option<&str>) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let (Ok(_), Some(n)) = (host.parse::<std::net::IpAddr>(), tls_name) {
        return ServerName::try_from(n.to_string()).ok();
    }
    ServerName::try_from(host.to_string()).ok()
}

/// nats-server's warning when the leafnode listener starts and the
/// listener's or a remote's `tls { insecure: true }` turns verification
/// off (`leafnodeTLSInsecureWarning`; no listener, no warning).
pub(crate) const INSECURE_WARNING: &str = "TLS certificate chain and hostname of solicited leafnodes will not be verified. DO NOT USE IN PRODUCTION!";

/// A failed client handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    /// The `timeout` passed (nats-server's timer: a debug line `TLS
    /// handshake timeout` only).
    Timeout,
    /// The hub's certificate is not for the name presented (the text as
    /// for `Failed`); nats-server then forgets a saved host name.
    NameMismatch(String),
    /// Anything else: `Display` is the text after `TLS leafnode handshake
    /// error: ` in nats-server's log line.
    Failed(String),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Timeout => f.write_str("TLS handshake timeout"),
            HandshakeError::NameMismatch(s) | HandshakeError::Failed(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for HandshakeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_uses_the_saved_host_name() {
        assert_eq!(
            server_name("127.0.0.1", Some("hub.example")),
            ServerName::try_from("hub.example").ok()
        );
        assert_eq!(
            server_name("127.0.0.1", None),
            ServerName::try_from("127.0.0.1").ok()
        );
        assert_eq!(server_name("[::1]", None), ServerName::try_from("::1").ok());
        assert_eq!(
            server_name("hub", Some("other")),
            ServerName::try_from("hub").ok()
        );
    }

    #[test]
    fn go_wording_of_client_failures() {
        use rustls::{AlertDescription, CertificateError, Error};
        assert_eq!(
            go_client_error(&Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        );
        assert_eq!(
            go_client_error(&Error::AlertReceived(AlertDescription::CertificateRequired)),
            "remote error: tls: certificate required"
        );
    }

    #[test]
    fn go_wording_of_a_name_mismatch() {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        assert_eq!(
            go_hostname_error("hub.example", &names),
            "certificate is valid for localhost, not hub.example"
        );
        assert_eq!(
            go_hostname_error("10.0.0.1", &names),
            "certificate is valid for 127.0.0.1, not 10.0.0.1"
        );
        assert_eq!(
            go_hostname_error("10.0.0.1", &names[..1]),
            "cannot validate certificate for 10.0.0.1 because it doesn't contain any IP SANs"
        );
        assert_eq!(
            go_hostname_error("hub", &names[1..]),
            "certificate is not valid for any names, but wanted to match hub"
        );
    }

    #[test]
    fn a_key_without_a_certificate_is_refused() {
        let cfg = TlsConfig {
            key_file: Some("k.pem".into()),
            ..TlsConfig::default()
        };
        assert!(matches!(
            ClientTls::new(Some(&cfg)),
            Err(TlsError::MissingCertFile)
        ));
    }
}

//! TLS settings: a `tls { … }` block (spec `nats-protocol.md` §4.3) turned
//! into a rustls [`ServerConfig`], held so that certificates can be swapped
//! without a restart ([`TlsHolder::reload`]), and the client-certificate
//! identity used by `verify_and_map` ([`PeerIdentity`]).
//!
//! Error texts follow nats-server's `GenTLSConfig` (`error parsing X509
//! certificate/key pair: …`, `failed to parse root ca certificate`,
//! `unsupported minimum TLS version: …`), with Go's I/O error wording
//! (`open <path>: no such file or directory`).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::options::TlsConfig;

/// nats-server's default TLS handshake timeout (`tls { timeout }`), 2 s.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// The current rustls configuration of one listener. Each handshake takes
/// [`TlsHolder::current`], so a [`TlsHolder::reload`] applies to new
/// connections only (websocket spec §1.5, §1.6).
pub struct TlsHolder {
    config: Mutex<Arc<ServerConfig>>,
    /// Whether client certificates are requested (false for monitoring,
    /// as nats-server's `ClientAuth = NoClientCert` there).
    client_auth: bool,
}

impl fmt::Debug for TlsHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsHolder")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl TlsHolder {
    /// Builds the configuration from `cfg`. `client_auth: false` never asks
    /// for client certificates (the https monitor).
    ///
    /// # Errors
    /// The first problem (see [`server_config`]).
    pub fn new(cfg: &TlsConfig, client_auth: bool) -> Result<TlsHolder, TlsError> {
        Ok(TlsHolder {
            config: Mutex::new(server_config(cfg, client_auth)?),
            client_auth,
        })
    }

    /// The configuration for a new handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.config.lock().expect("tls config").clone()
    }

    /// Re-reads certificates and settings from `cfg`; connections already
    /// established keep their session. On error the old configuration stays.
    ///
    /// # Errors
    /// As [`TlsHolder::new`].
    pub fn reload(&self, cfg: &TlsConfig) -> Result<(), TlsError> {
        let new = server_config(cfg, self.client_auth)?;
        *self.config.lock().expect("tls config") = new;
        Ok(())
    }
}

/// A TLS listener's settings, resolved from a `tls { … }` block.
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// The rustls configuration, fetched per handshake.
    pub holder: Arc<TlsHolder>,
    /// `verify` (or `verify_and_map`): client certificates required and
    /// verified against `ca_file`; INFO `tls_verify`.
    pub verify: bool,
    /// `verify_and_map`: the client certificate's identity is kept on the
    /// connection ([`PeerIdentity`]) for authentication.
    pub verify_and_map: bool,
    /// Handshake timeout (`timeout`, default 2 s). Websocket listeners use
    /// `handshake_timeout` instead.
    pub timeout: Duration,
    /// `handshake_first`: TLS handshake before INFO (client port only).
    pub handshake_first: bool,
    /// `pinned_certs`: lower-case hex SHA-256 of the allowed client
    /// certificates' SubjectPublicKeyInfo; empty = no pinning.
    pub pinned_certs: Vec<String>,
}

impl TlsListen {
    /// Resolves a `tls { … }` block for a listener that may ask for client
    /// certificates.
    ///
    /// # Errors
    /// As [`server_config`].
    pub fn new(cfg: &TlsConfig) -> Result<TlsListen, TlsError> {
        Ok(TlsListen {
            holder: Arc::new(TlsHolder::new(cfg, true)?),
            verify: cfg.verify || cfg.verify_and_map,
            verify_and_map: cfg.verify_and_map,
            timeout: cfg
                .timeout
                .filter(|t| !t.is_zero())
                .unwrap_or(DEFAULT_TLS_TIMEOUT),
            handshake_first: cfg.handshake_first,
            pinned_certs: cfg
                .pinned_certs
                .iter()
                .map(|p| p.to_ascii_lowercase())
                .collect(),
        })
    }
}

/// Why a `tls { … }` block (or the `--tls…` flags) could not become a
/// rustls configuration. `Display` is nats-server's `GenTLSConfig` text.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TlsError {
    /// `--tls` (command line) without `--tlscert`, or nothing to serve:
    /// `TLS Server certificate must be present and valid`.
    CertRequired,
    /// `--tlscert` without `--tlskey`: `TLS Server private key must be
    /// present and valid`.
    KeyRequired,
    /// A block with `cert_file` but no `key_file`: `missing 'key_file' in
    /// TLS configuration`.
    MissingKeyFile,
    /// A block with `key_file` but no `cert_file`: `missing 'cert_file' in
    /// TLS configuration`.
    MissingCertFile,
    /// `cert_file`/`key_file` unreadable, not PEM, or not a matching pair:
    /// `error parsing X509 certificate/key pair: <cause>`.
    KeyPair(KeyPairError),
    /// `cert_file` holds PEM that is not an X.509 certificate: `error
    /// parsing certificate: x509: malformed certificate`.
    MalformedCertificate,
    /// `ca_file` cannot be read: `open <path>: <reason>`.
    CaFile(OpenError),
    /// `ca_file` holds no usable certificate: `failed to parse root ca
    /// certificate`.
    RootCa,
    /// `min_version` `1.0` or `1.1`: `unsupported minimum TLS version: <v>`.
    UnsupportedMinVersion(String),
    /// Any other unknown `min_version`: `error parsing tls config: unknown
    /// version: <v>`.
    UnknownVersion(String),
    /// rustls refused the protocol versions: `error parsing tls config:
    /// <rustls error>`.
    Protocol(rustls::Error),
    /// rustls refused the client-certificate verifier built from
    /// `ca_file`: `error parsing tls config: <rustls error>`.
    Verifier(rustls::server::VerifierBuilderError),
    /// `verify`/`verify_and_map` without `ca_file`: `verify requires
    /// ca_file in TLS configuration` (natsws: no system trust store for
    /// client certificates).
    VerifyWithoutCa,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::CertRequired => {
                f.write_str("TLS Server certificate must be present and valid")
            }
            TlsError::KeyRequired => {
                f.write_str("TLS Server private key must be present and valid")
            }
            TlsError::MissingKeyFile => f.write_str("missing 'key_file' in TLS configuration"),
            TlsError::MissingCertFile => f.write_str("missing 'cert_file' in TLS configuration"),
            TlsError::KeyPair(e) => write!(f, "error parsing X509 certificate/key pair: {e}"),
            TlsError::MalformedCertificate => {
                f.write_str("error parsing certificate: x509: malformed certificate")
            }
            TlsError::CaFile(e) => write!(f, "{e}"),
            TlsError::RootCa => f.write_str("failed to parse root ca certificate"),
            TlsError::UnsupportedMinVersion(v) => write!(f, "unsupported minimum TLS version: {v}"),
            TlsError::UnknownVersion(v) => {
                write!(f, "error parsing tls config: unknown version: {v}")
            }
            TlsError::Protocol(e) => write!(f, "error parsing tls config: {e}"),
            TlsError::Verifier(e) => write!(f, "error parsing tls config: {e}"),
            TlsError::VerifyWithoutCa => {
                f.write_str("verify requires ca_file in TLS configuration")
            }
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::KeyPair(e) => Some(e),
            TlsError::CaFile(e) => Some(e),
            TlsError::Protocol(e) => Some(e),
            TlsError::Verifier(e) => Some(e),
            _ => None,
        }
    }
}

/// Why `cert_file` and `key_file` are not a usable pair (the cause in
/// `error parsing X509 certificate/key pair: <cause>`), in Go's `tls`
/// package wording.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyPairError {
    /// `cert_file` or `key_file` cannot be read: `open <path>: <reason>`.
    Open(OpenError),
    /// `cert_file` holds no PEM certificate: `tls: failed to find any PEM
    /// data in certificate input`.
    NoCertificatePem,
    /// `key_file` holds no PEM private key: `tls: failed to find any PEM
    /// data in key input`.
    NoKeyPem,
    /// The key is not the certificate's: `tls: private key does not match
    /// public key`.
    KeyMismatch,
    /// rustls refused the pair for another reason (its text).
    Rustls(rustls::Error),
}

impl fmt::Display for KeyPairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPairError::Open(e) => write!(f, "{e}"),
            KeyPairError::NoCertificatePem => {
                f.write_str("tls: failed to find any PEM data in certificate input")
            }
            KeyPairError::NoKeyPem => f.write_str("tls: failed to find any PEM data in key input"),
            KeyPairError::KeyMismatch => f.write_str("tls: private key does not match public key"),
            KeyPairError::Rustls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KeyPairError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyPairError::Open(e) => Some(e),
            KeyPairError::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

/// A TLS file (`cert_file`, `key_file`, `ca_file`) that cannot be read.
/// `Display` is Go's wording: `open <path>: no such file or directory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    /// The file as configured.
    pub path: PathBuf,
    /// Go's text of the I/O error (`no such file or directory`,
    /// `permission denied`, `is a directory`, else the system's text in
    /// lower case).
    pub reason: String,
}

impl OpenError {
    /// Go's wording of an I/O error on `path`.
    fn new(path: &Path, e: &io::Error) -> OpenError {
        let reason = match e.kind() {
            io::ErrorKind::NotFound => "no such file or directory".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            io::ErrorKind::IsADirectory => "is a directory".to_string(),
            _ => {
                let s = e.to_string();
                match s.find(" (os error") {
                    Some(i) => s[..i].to_lowercase(),
                    None => s,
                }
            }
        };
        OpenError {
            path: path.to_path_buf(),
            reason,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "open {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for OpenError {}

fn read(path: &Path) -> Result<Vec<u8>, OpenError> {
    std::fs::read(path).map_err(|e| OpenError::new(path, &e))
}

/// Builds a rustls server configuration from a `tls { … }` block: the
/// certificate chain (`cert_file`) and key (`key_file`), TLS 1.2 and 1.3
/// (`min_version: "1.3"` for 1.3 only), and, when `client_auth` and
/// `verify`/`verify_and_map` are set, required client certificates verified
/// against `ca_file`.
///
/// # Errors
/// The first problem, as a [`TlsError`] (its variants list the texts).
pub fn server_config(cfg: &TlsConfig, client_auth: bool) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert_file, key_file) = match (&cfg.cert_file, &cfg.key_file) {
        (Some(c), Some(k)) => (c, k),
        // From the command line (`--tls…` flags, no block position).
        (None, _) if cfg.span.is_none() => return Err(TlsError::CertRequired),
        (Some(_), None) if cfg.span.is_none() => return Err(TlsError::KeyRequired),
        (Some(_), None) => return Err(TlsError::MissingKeyFile),
        (None, Some(_)) => return Err(TlsError::MissingCertFile),
        (None, None) => return Err(TlsError::CertRequired),
    };
    let (certs, key) = load_pair(cert_file, key_file)?;
    let versions = protocol_versions(cfg.min_version.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(TlsError::Protocol)?;

    let verify = client_auth && (cfg.verify || cfg.verify_and_map);
    let roots = match &cfg.ca_file {
        Some(ca) => load_roots(ca)?,
        None => RootCertStore::empty(),
    };
    let builder = if verify {
        if roots.is_empty() {
            return Err(TlsError::VerifyWithoutCa);
        }
        let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(TlsError::Verifier)?;
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => KeyPairError::KeyMismatch,
            e => KeyPairError::Rustls(e),
        })
        .map_err(TlsError::KeyPair)?;
    // HTTP/1.1 only (no h2), as nats-server's websocket and monitor servers.
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
}

/// The certificate chain and private key of `cert_file`/`key_file`.
pub(crate) fn load_pair(
    cert_file: &Path,
    key_file: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert_pem = read(cert_file)
        .map_err(KeyPairError::Open)
        .map_err(TlsError::KeyPair)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::KeyPair(KeyPairError::NoCertificatePem))?;
    if certs.is_empty() {
        return Err(TlsError::KeyPair(KeyPairError::NoCertificatePem));
    }
    let key_pem = read(key_file)
        .map_err(KeyPairError::Open)
        .map_err(TlsError::KeyPair)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| TlsError::KeyPair(KeyPairError::NoKeyPem))?;
    if x509_parser::parse_x509_certificate(&certs[0]).is_err() {
        return Err(TlsError::MalformedCertificate);
    }
    Ok((certs, key))
}

/// TLS 1.3 and 1.2 (the default, `min_version: "1.2"`).
static TLS_1_2_UP: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];
/// TLS 1.3 only (`min_version: "1.3"`).
static TLS_1_3_UP: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

/// The protocol versions a `min_version` allows (TLS 1.2 and 1.3 by
/// default, `1.3` for 1.3 only).
pub(crate) fn protocol_versions(
    min_version: Option<&str>,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion], TlsError> {
    match min_version.map(str::trim) {
        None | Some("") | Some("1.2") => Ok(&TLS_1_2_UP),
        Some("1.3") => Ok(&TLS_1_3_UP),
        Some(v @ ("1.0" | "1.1")) => Err(TlsError::UnsupportedMinVersion(v.to_string())),
        Some(v) => Err(TlsError::UnknownVersion(v.to_string())),
    }
}

/// The trust anchors of `ca_file`: every PEM certificate in it.
pub(crate) fn load_roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let pem = read(ca).map_err(TlsError::CaFile)?;
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        let c = c.map_err(|_| TlsError::RootCa)?;
        roots.add(c).map_err(|_| TlsError::RootCa)?;
    }
    if roots.is_empty() {
        return Err(TlsError::RootCa);
    }
    Ok(roots)
}

/// Lower-case hex SHA-256 of a DER certificate's SubjectPublicKeyInfo (the
/// `pinned_certs` key id). `None` if the certificate cannot be parsed.
pub fn spki_sha256(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let d = ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw);
    Some(d.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Go's name of a negotiated protocol version (`1.2`, `1.3`).
pub fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "1.3".into(),
        v => format!("Unknown [0x{:x}]", u16::from(v)),
    }
}

/// Go's `tls.CipherSuiteName` of a cipher suite (`TLS_AES_128_GCM_SHA256`,
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`).
pub fn cipher_name(s: rustls::CipherSuite) -> String {
    let d = format!("{s:?}");
    match d.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => d,
    }
}

/// What a TLS connection negotiated, kept on the connection once the
/// handshake completes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsInfo {
    /// `1.2` or `1.3` (connz `tls_version`).
    pub version: String,
    /// Go's cipher suite name (connz `tls_cipher_suite`).
    pub cipher: String,
    /// The client certificate's identity, when the listener has
    /// `verify_and_map` and the client presented one.
    pub peer: Option<PeerIdentity>,
    /// Lower-case hex SHA-256 of the client certificate's
    /// SubjectPublicKeyInfo (the `pinned_certs` key), when it presented one;
    /// a reload that changes `pinned_certs` checks open connections with it.
    pub spki: Option<String>,
}

/// The identity in a client's leaf certificate, for `verify_and_map`
/// (spec `nats-protocol.md` §3.1, websocket spec §5.7): core's
/// [`TlsIdentity`](natsws_core::auth::TlsIdentity), which authentication
/// takes as it is. nats-server maps a certificate to a user by its email
/// addresses, DNS names, URIs, then its subject DN (`pkix.Name.String()`,
/// RFC 2253 order: most specific first, e.g. `CN=alice,OU=NATS.io,O=Synadia`).
pub type PeerIdentity = natsws_core::auth::TlsIdentity;

/// Parses a DER certificate's identity. `None` if it cannot be parsed.
pub fn peer_identity(der: &[u8]) -> Option<PeerIdentity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut id = PeerIdentity {
        subject_dn: go_dn(cert.subject()),
        ..PeerIdentity::default()
    };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        use x509_parser::extensions::GeneralName;
        for n in &san.value.general_names {
            match n {
                GeneralName::RFC822Name(s) => id.emails.push((*s).to_string()),
                GeneralName::DNSName(s) => id.dns_names.push((*s).to_string()),
                GeneralName::URI(s) => id.uris.push((*s).to_string()),
                _ => {}
            }
        }
    }
    Some(id)
}

/// Go's short names for the attributes `pkix.Name` parses, in the order
/// `ToRDNSequence` emits them (reversed by `String`).
const GO_ATTRS: &[(&str, &str)] = &[
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
];

/// Go's `pkix.Name.String()`: the other attributes first (shown last, as
/// `oid=#hex`), then the parsed ones in `ToRDNSequence` order (several
/// values of one type in one RDN, joined with `+`), printed last RDN first.
pub(crate) fn go_dn(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut parsed: Vec<Vec<String>> = vec![Vec::new(); GO_ATTRS.len()];
    let mut others: Vec<String> = Vec::new();
    for rdn in name.iter() {
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            match GO_ATTRS.iter().position(|(o, _)| *o == oid) {
                Some(i) => {
                    if let Ok(s) = atv.as_str() {
                        parsed[i].push(s.to_string());
                    }
                }
                None => {
                    let der = match atv.as_str() {
                        Ok(s) => go_asn1_string(s),
                        Err(_) => atv.attr_value().as_bytes().to_vec(),
                    };
                    let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
                    others.push(format!("{oid}=#{hex}"));
                }
            }
        }
    }
    // The RDN sequence: others (in order), then the parsed groups.
    let mut rdns: Vec<String> = others;
    for (i, values) in parsed.iter().enumerate() {
        if values.is_empty() {
            continue;
        }
        let name = GO_ATTRS[i].1;
        let rdn: Vec<String> = values
            .iter()
            .map(|v| format!("{name}={}", go_escape(v)))
            .collect();
        rdns.push(rdn.join("+"));
    }
    rdns.reverse();
    rdns.join(",")
}

/// RFC 2253 escaping as Go's `RDNSequence.String`.
fn go_escape(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (k, c) in v.chars().enumerate() {
        let esc = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k + 1 == n,
            '#' => k == 0,
            _ => false,
        };
        if esc {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `asn1.Marshal` of a string: PrintableString when every character
/// allows it, else UTF8String.
fn go_asn1_string(s: &str) -> Vec<u8> {
    let printable = s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    });
    let mut out = vec![if printable { 0x13 } else { 0x0c }];
    let len = s.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(s.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_like_go() {
        assert_eq!(go_escape("a,b"), "a\\,b");
        assert_eq!(go_escape(" x "), "\\ x\\ ");
        assert_eq!(go_escape("#a#"), "\\#a#");
    }

    #[test]
    fn asn1_string_tags() {
        assert_eq!(go_asn1_string("ab"), vec![0x13, 2, b'a', b'b']);
        assert_eq!(go_asn1_string("a@b"), vec![0x0c, 3, b'a', b'@', b'b']);
    }

    #[test]
    fn missing_files_have_go_texts() {
        let cfg = TlsConfig {
            cert_file: Some("/nonexistent/c.pem".into()),
            key_file: Some("/nonexistent/k.pem".into()),
            ..TlsConfig::default()
        };
        assert_eq!(
            server_config(&cfg, true).unwrap_err().to_string(),
            "error parsing X509 certificate/key pair: open /nonexistent/c.pem: no such file or directory"
        );
    }
}

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
use std::path::Path;
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
    /// The nats-server text of the first problem (see [`server_config`]).
    pub fn new(cfg: &TlsConfig, client_auth: bool) -> Result<TlsHolder, String> {
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
    pub fn reload(&self, cfg: &TlsConfig) -> Result<(), String> {
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
    pub fn new(cfg: &TlsConfig) -> Result<TlsListen, String> {
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

/// Go's wording of an I/O error on `path` (`open <path>: no such file or
/// directory`).
fn go_open_error(path: &Path, e: &io::Error) -> String {
    let what = match e.kind() {
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
    format!("open {}: {what}", path.display())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| go_open_error(path, &e))
}

/// Builds a rustls server configuration from a `tls { … }` block: the
/// certificate chain (`cert_file`) and key (`key_file`), TLS 1.2 and 1.3
/// (`min_version: "1.3"` for 1.3 only), and, when `client_auth` and
/// `verify`/`verify_and_map` are set, required client certificates verified
/// against `ca_file`.
///
/// # Errors
/// * `missing 'cert_file' in TLS configuration` / `missing 'key_file' …`;
/// * `error parsing X509 certificate/key pair: <cause>` (unreadable file,
///   `tls: failed to find any PEM data in certificate input`, `… key
///   input`, `tls: private key does not match public key`);
/// * `open <ca_file>: …`, `failed to parse root ca certificate`;
/// * `unsupported minimum TLS version: <v>`, `error parsing tls config:
///   unknown version: <v>`;
/// * `verify requires ca_file in TLS configuration` (natsws: no system
///   trust store for client certificates).
pub fn server_config(cfg: &TlsConfig, client_auth: bool) -> Result<Arc<ServerConfig>, String> {
    let (cert_file, key_file) = match (&cfg.cert_file, &cfg.key_file) {
        (Some(c), Some(k)) => (c, k),
        // From the command line (`--tls…` flags, no block position).
        (None, _) if cfg.span.is_none() => {
            return Err("TLS Server certificate must be present and valid".into());
        }
        (Some(_), None) if cfg.span.is_none() => {
            return Err("TLS Server private key must be present and valid".into());
        }
        (Some(_), None) => return Err("missing 'key_file' in TLS configuration".into()),
        (None, Some(_)) => return Err("missing 'cert_file' in TLS configuration".into()),
        (None, None) => {
            return Err("TLS Server certificate must be present and valid".into());
        }
    };
    let pair = |m: String| format!("error parsing X509 certificate/key pair: {m}");
    let cert_pem = read(cert_file).map_err(pair)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| pair("tls: failed to find any PEM data in certificate input".into()))?;
    if certs.is_empty() {
        return Err(pair(
            "tls: failed to find any PEM data in certificate input".into(),
        ));
    }
    let key_pem = read(key_file).map_err(pair)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| pair("tls: failed to find any PEM data in key input".into()))?;
    if x509_parser::parse_x509_certificate(&certs[0]).is_err() {
        return Err("error parsing certificate: x509: malformed certificate".into());
    }

    let versions: &[&'static rustls::SupportedProtocolVersion] =
        match cfg.min_version.as_deref().map(str::trim) {
            None | Some("") | Some("1.2") => &[&rustls::version::TLS13, &rustls::version::TLS12],
            Some("1.3") => &[&rustls::version::TLS13],
            Some(v @ ("1.0" | "1.1")) => {
                return Err(format!("unsupported minimum TLS version: {v}"));
            }
            Some(v) => return Err(format!("error parsing tls config: unknown version: {v}")),
        };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("error parsing tls config: {e}"))?;

    let verify = client_auth && (cfg.verify || cfg.verify_and_map);
    let mut roots = RootCertStore::empty();
    if let Some(ca) = &cfg.ca_file {
        let pem = read(ca)?;
        let mut any = false;
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|_| "failed to parse root ca certificate".to_string())?;
            roots
                .add(c)
                .map_err(|_| "failed to parse root ca certificate".to_string())?;
            any = true;
        }
        if !any {
            return Err("failed to parse root ca certificate".into());
        }
    }
    let builder = if verify {
        if roots.is_empty() {
            return Err("verify requires ca_file in TLS configuration".into());
        }
        let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("error parsing tls config: {e}"))?;
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            pair("tls: private key does not match public key".into())
        }
        e => pair(e.to_string()),
    })?;
    // HTTP/1.1 only (no h2), as nats-server's websocket and monitor servers.
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
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
fn go_dn(name: &x509_parser::x509::X509Name<'_>) -> String {
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
            server_config(&cfg, true).unwrap_err(),
            "error parsing X509 certificate/key pair: open /nonexistent/c.pem: no such file or directory"
        );
    }
}

//! A test PKI made by rcgen in a temporary directory: CA, server and
//! client certificates, and rustls client configs that present them.

use std::path::PathBuf;
use std::sync::Arc;

use super::TempDir;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// A test PKI: a CA, a server certificate (127.0.0.1, localhost), a client
/// certificate (`CN=alice,OU=NATS.io,O=Synadia`, email SAN) and a client
/// certificate from another CA.
pub struct Pki {
    pub dir: TempDir,
    ca_der: CertificateDer<'static>,
    pub client_chain: Vec<CertificateDer<'static>>,
    client_key: Vec<u8>,
    rogue_chain: Vec<CertificateDer<'static>>,
    rogue_key: Vec<u8>,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    (p.self_signed(&key).unwrap(), key)
}

fn client_cert(ca: &rcgen::Certificate, ca_key: &KeyPair) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(DnType::OrganizationName, "Synadia");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "NATS.io");
    p.distinguished_name.push(DnType::CommonName, "alice");
    p.subject_alt_names
        .push(SanType::Rfc822Name("alice@example.com".try_into().unwrap()));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    (p.signed_by(&key, ca, ca_key).unwrap(), key)
}

impl Pki {
    pub fn new() -> Pki {
        Pki::with_ca_name("natsws test CA")
    }

    /// As [`Pki::new`] with a CA of another name (two CAs of one name make
    /// a verification error other than `unknown authority`).
    #[allow(dead_code)]
    pub fn with_ca_name(ca_name: &str) -> Pki {
        let dir = TempDir::new();
        let (ca_cert, ca_key) = ca(ca_name);
        let skey = KeyPair::generate().unwrap();
        let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        sp.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        sp.distinguished_name.push(DnType::CommonName, "natsws");
        let server = sp.signed_by(&skey, &ca_cert, &ca_key).unwrap();
        let (client, ckey) = client_cert(&ca_cert, &ca_key);
        let (rogue_ca, rogue_ca_key) = ca("rogue CA");
        let (rogue, rkey) = client_cert(&rogue_ca, &rogue_ca_key);
        let w = |name: &str, data: String| std::fs::write(dir.0.join(name), data).unwrap();
        w("ca.pem", ca_cert.pem());
        w("server-cert.pem", server.pem());
        w("server-key.pem", skey.serialize_pem());
        w("client-cert.pem", client.pem());
        w("client-key.pem", ckey.serialize_pem());
        Pki {
            ca_der: ca_cert.der().clone(),
            client_chain: vec![client.der().clone()],
            client_key: ckey.serialize_der(),
            rogue_chain: vec![rogue.der().clone()],
            rogue_key: rkey.serialize_der(),
            dir,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// A `tls { … }` block body with the server certificate, plus `extra`.
    pub fn block(&self, extra: &str) -> String {
        format!(
            "cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  {extra}",
            self.path("server-cert.pem").display(),
            self.path("server-key.pem").display(),
            self.path("ca.pem").display()
        )
    }

    pub fn client_config(&self, cert: Option<bool>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let b =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots);
        let cfg = match cert {
            None => b.with_no_client_auth(),
            Some(trusted) => {
                let (chain, key) = if trusted {
                    (&self.client_chain, &self.client_key)
                } else {
                    (&self.rogue_chain, &self.rogue_key)
                };
                b.with_client_auth_cert(
                    chain.clone(),
                    PrivateKeyDer::try_from(key.clone()).unwrap(),
                )
                .unwrap()
            }
        };
        Arc::new(cfg)
    }
}

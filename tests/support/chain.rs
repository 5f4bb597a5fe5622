//! A root, an intermediate and leaves issued by the intermediate, as public CAs issue them: for
//! a server that sends its leaf without the intermediate (an incomplete chain), beside one that
//! sends both.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

use super::certs::Leaf;

pub struct Chain {
    root: rcgen::Certificate,
    intermediate: rcgen::Certificate,
    intermediate_key: KeyPair,
    /// The root, for `--ca-cert`.
    pub root_pem: String,
    pub intermediate_pem: String,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

impl Chain {
    pub fn new(root_name: &str, intermediate_name: &str) -> Chain {
        let root_key = KeyPair::generate().unwrap();
        let root = ca_params(root_name).self_signed(&root_key).unwrap();
        let intermediate_key = KeyPair::generate().unwrap();
        let intermediate = ca_params(intermediate_name)
            .signed_by(&intermediate_key, &root, &root_key)
            .unwrap();
        Chain {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            root,
            intermediate,
            intermediate_key,
        }
    }

    /// A leaf issued by the intermediate; `with_intermediate` appends it to the served chain.
    pub fn leaf(&self, names: &[&str], with_intermediate: bool) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        for name in names {
            params.subject_alt_names.push(match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            });
        }
        let key = KeyPair::generate().unwrap();
        let cert = params
            .signed_by(&key, &self.intermediate, &self.intermediate_key)
            .unwrap();
        let mut cert_pem = cert.pem();
        if with_intermediate {
            cert_pem.push_str(&self.intermediate_pem);
        }
        let _ = &self.root;
        Leaf {
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }
}

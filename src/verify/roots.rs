//! The CAs a TLS or HTTPS check trusts: the system's, or only those of the
//! check's `ca_file` (a private CA, a test CA). rustls with ring; never openssl.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A client config trusting `ca_file` (relative to `base_dir`) alone, or the
/// system's roots when it is absent.
pub fn client_config(ca_file: Option<&Path>, base_dir: &Path) -> Result<ClientConfig, String> {
    let roots = root_store(ca_file, base_dir)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The CAs of `ca_file` (relative to `base_dir`), or the system's.
pub fn root_store(ca_file: Option<&Path>, base_dir: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let path = base_dir.join(file);
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("ca_file {} holds no certificate", path.display()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // One unparsable system certificate must not disable the rest.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no system CA certificates found; give `ca_file`".into());
            }
        }
    }
    Ok(roots)
}

/// A client config that trusts nothing: plain-http checks never use it.
pub fn client_config_without_roots() -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth()
}

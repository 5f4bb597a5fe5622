//! The access URL, parsed once for every section that needs it.

use crate::redact::redact_url;
use crate::report::database::SettingSource;

/// The configured access URL: as given, and parsed (http or https with a host) or why not.
#[derive(Clone, Debug)]
pub struct AccessUrl {
    raw: String,
    parsed: Result<url::Url, String>,
    source: SettingSource,
}

impl AccessUrl {
    pub fn new(raw: &str) -> AccessUrl {
        AccessUrl::from_source(raw, SettingSource::Flag)
    }

    /// The URL and the setting source it came from.
    pub fn from_source(raw: &str, source: SettingSource) -> AccessUrl {
        AccessUrl {
            raw: raw.to_string(),
            parsed: parse(raw),
            source,
        }
    }

    pub fn source(&self) -> SettingSource {
        self.source
    }

    /// The URL for the report's header: credentials redacted, and where it came from when
    /// that is not the configuration a user would look at first.
    pub fn for_header(&self) -> String {
        match self.source {
            SettingSource::CoderLogin => format!("{} (from coder login)", self.shown()),
            _ => self.shown(),
        }
    }

    /// The URL as configured (may carry credentials: not for output).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The URL with credentials redacted, for output.
    pub fn shown(&self) -> String {
        redact_url(&self.raw)
    }

    /// The parsed URL, or why it does not parse (worded for EACS02).
    pub fn parsed(&self) -> Result<&url::Url, &str> {
        self.parsed.as_ref().map_err(String::as_str)
    }
}

/// Accepts only http and https (Coder would fail later, as EACS03).
fn parse(raw: &str) -> Result<url::Url, String> {
    let shown = redact_url(raw);
    let url = url::Url::parse(raw.trim()).map_err(|e| match with_scheme(raw) {
        Some(meant) => format!("access URL {shown:?} does not parse: {e}; did you mean {meant}?"),
        None => format!(
            "access URL {shown:?} does not parse: {e} (expected e.g. https://coder.example.com)"
        ),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        // `localhost:3000` parses as scheme "localhost".
        if let Some(meant) = with_scheme(raw) {
            return Err(no_scheme(&meant));
        }
        return Err(format!(
            "access URL {shown:?} has scheme {:?}; expected http or https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("access URL {shown:?} has no host"));
    }
    Ok(url)
}

/// The suggestion names the input (credentials redacted, which the input as typed could not be).
fn no_scheme(meant: &str) -> String {
    format!("access URL has no scheme (expected http:// or https://); did you mean {meant}?")
}

/// A host with an optional port and path, given without a scheme: the URL it most likely means
/// (http for a loopback host, as a local test deployment is; https otherwise), credentials
/// redacted.
fn with_scheme(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.contains("://") {
        return None;
    }
    let https = url::Url::parse(&format!("https://{raw}")).ok()?;
    let host = https.host_str()?;
    // A port alone is what the user wrote: `coder:3000` would be host "coder", port 3000.
    if host.is_empty() || raw.starts_with(char::is_numeric) && !host.contains('.') {
        return None;
    }
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme = if loopback { "http" } else { "https" };
    Some(redact_url(&format!("{scheme}://{raw}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_with_a_host() {
        assert!(AccessUrl::new("https://coder.example.com").parsed().is_ok());
        let ftp = AccessUrl::new("ftp://coder.example.com");
        assert!(ftp.parsed().unwrap_err().contains("expected http or https"));
        let garbage = AccessUrl::new("not a url");
        assert!(garbage.parsed().unwrap_err().contains("does not parse"));
        // Without a scheme: the URL it most likely means.
        for (given, meant) in [
            ("localhost:37699", "http://localhost:37699"),
            ("127.0.0.1:3000", "http://127.0.0.1:3000"),
            ("coder.example.com", "https://coder.example.com"),
            ("coder.example.com:8443/", "https://coder.example.com:8443/"),
        ] {
            let e = AccessUrl::new(given).parsed().unwrap_err().to_string();
            assert!(
                e.ends_with(&format!("did you mean {meant}?")),
                "{given}: {e}"
            );
        }
        let e = AccessUrl::new("me:pw@localhost:1")
            .parsed()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("pw@"), "{e}");
        let secret = AccessUrl::new("https://user:hunter22@coder.example.com");
        assert!(!secret.shown().contains("hunter22"));
    }
}

//! Secrets never leave the process. Code that renders a DSN or URL redacts it structurally
//! (`redact_url`, the DSN's own `Display`); `Secrets::scrub` is the last line of defence, applied
//! to every byte we print.

pub const REDACTED: &str = "[REDACTED]";

/// Secret strings this run knows about: the DSN password, the session token, URL passwords.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: Vec<String>,
}

/// Shorter secrets are still redacted structurally, but are not scrubbed from free text, where
/// they would mangle ordinary words.
const MIN_SCRUB_LEN: usize = 4;

impl Secrets {
    /// The secrets of one run: the DSN's password, session tokens (each spelling they were
    /// given in), and the passwords and queries of URLs.
    pub fn collect<'a>(
        dsn_password: Option<&str>,
        tokens: impl IntoIterator<Item = Option<&'a str>>,
        urls: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Secrets {
        let mut secrets = Secrets::default();
        if let Some(password) = dsn_password {
            secrets.add(password);
        }
        for token in tokens.into_iter().flatten() {
            secrets.add_token(token);
        }
        for url in urls.into_iter().flatten() {
            secrets.add_url(url);
        }
        secrets
    }

    /// Candidate secrets in raw input, before any of it is understood: usage errors quote
    /// values from the command line or the environment, and a password or token may be given in
    /// the wrong place. Collected: passwords of anything that reads as a DSN or URL, URL
    /// queries, values of `--token`-like flags and of `*TOKEN*`/`*PASSWORD*`/`*SECRET*`
    /// variables, and words shaped like a Coder session token. `dsn_password` finds the password
    /// of a value that reads as a PostgreSQL DSN (passed in: this module knows no DSN syntax).
    pub fn from_raw_input(
        args: &[String],
        env: &[(String, String)],
        dsn_password: fn(&str) -> Option<String>,
    ) -> Secrets {
        let mut secrets = Secrets::default();
        let mut after_token_flag = false;
        for arg in args {
            if after_token_flag {
                secrets.add_token(arg);
            }
            let (flag, value) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag, value),
                _ => (arg.as_str(), arg.as_str()),
            };
            let names_token = flag.starts_with('-') && flag.to_ascii_lowercase().contains("token");
            after_token_flag = names_token && !arg.contains('=');
            if names_token && arg.contains('=') {
                secrets.add_token(value);
            }
            secrets.add_candidates(value, dsn_password);
        }
        for (name, value) in env {
            let name = name.to_ascii_uppercase();
            if ["TOKEN", "PASSWORD", "SECRET"]
                .iter()
                .any(|w| name.contains(w))
            {
                secrets.add_token(value);
            }
            secrets.add_candidates(value, dsn_password);
        }
        secrets
    }

    /// A token as given and as sent (trimmed: a token file often ends in a newline).
    fn add_token(&mut self, token: &str) {
        self.add(token);
        self.add(token.trim());
    }

    /// The secrets inside one raw value that may be a DSN, a URL or hold a token.
    fn add_candidates(&mut self, value: &str, dsn_password: fn(&str) -> Option<String>) {
        if let Some(password) = dsn_password(value) {
            self.add(&password);
        }
        self.add_url(value);
        // A value without a scheme (`user:pw@proxy:3128`, read as http:// by Go) or one that
        // does not parse still has its userinfo.
        if let Some(password) = userinfo_password(value) {
            self.add(password);
            self.add(&percent_decode(password));
        }
        for word in value.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if looks_like_coder_token(word) {
                self.add(word);
            }
        }
    }

    /// The password (raw and decoded) of a URL, and its secret query: for a PostgreSQL URL
    /// only the values of `password` and `sslpassword` (`sslmode`, `sslrootcert`,
    /// `connect_timeout` name what a user must fix and stay readable); for any other URL the
    /// whole query (a presigned URL carries its signature there).
    fn add_url(&mut self, url: &str) {
        let Ok(parsed) = url::Url::parse(url.trim()) else {
            return;
        };
        if is_postgres(&parsed) {
            for (raw, decoded) in secret_query_values(&parsed) {
                self.add(&raw);
                self.add(&decoded);
            }
        } else if let Some(query) = parsed.query() {
            self.add(query);
        }
        if let Some(password) = parsed.password() {
            self.add(password);
            let decoded = url::form_urlencoded::parse(
                format!("p={}", password.replace('+', "%2B")).as_bytes(),
            )
            .next()
            .map(|(_, v)| v.into_owned());
            let user = url::form_urlencoded::parse(format!("u={}", parsed.username()).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if let Some(decoded) = decoded {
                self.add(&base64(format!("{user}:{decoded}").as_bytes()));
                self.add(&decoded);
            }
        }
    }

    /// All of `other`'s secrets too.
    pub fn extend(&mut self, other: &Secrets) {
        for value in &other.values {
            if !self.values.contains(value) {
                self.values.push(value.clone());
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    pub fn add(&mut self, secret: &str) {
        if secret.len() < MIN_SCRUB_LEN {
            return;
        }
        // Also the spellings a secret takes inside URLs.
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        // As it appears inside a JSON string or a Rust `{:?}` rendering.
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        let debug = format!("{secret:?}").trim_matches('"').to_string();
        for variant in [
            secret.to_string(),
            encoded,
            percent_encode_all_reserved(secret),
            json,
            debug,
        ] {
            if !self.values.contains(&variant) {
                self.values.push(variant);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Scrubs the string values of a JSON document; keys, numbers and literals are left alone,
    /// so a password such as `true` or `database` cannot break the document's shape.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => *text = self.scrub(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_json(v)),
            _ => {}
        }
    }

    /// As `scrub_json`, on a serialized document: string values are decoded, scrubbed and
    /// re-encoded; object keys and everything outside strings stay as they are. Needs no parsed
    /// tree, so a report of thousands of nodes costs its text, not a `Value` many times larger.
    pub fn scrub_json_text(&self, json: &str) -> String {
        if self.values.is_empty() {
            return json.to_string();
        }
        let bytes = json.as_bytes();
        let mut out = String::with_capacity(json.len());
        let mut i = 0;
        while i < bytes.len() {
            let Some(start) = json[i..].find('"').map(|at| i + at) else {
                out.push_str(&json[i..]);
                break;
            };
            out.push_str(&json[i..start]);
            // The closing quote: the first one not escaped by a backslash.
            let mut end = start + 1;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            if end >= bytes.len() {
                // Not a document serde wrote; scrub it as plain text rather than guess.
                return self.scrub(json);
            }
            let literal = &json[start..=end];
            let is_key = json[end + 1..].trim_start().starts_with(':');
            match serde_json::from_str::<String>(literal) {
                Ok(text) if !is_key => {
                    let clean = self.scrub(&text);
                    if clean == text {
                        out.push_str(literal);
                    } else {
                        out.push_str(&serde_json::to_string(&clean).unwrap_or_default());
                    }
                }
                _ => out.push_str(literal),
            }
            i = end + 1;
        }
        out
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

/// Standard base64 with padding: the `Authorization: Basic` spelling of credentials (a proxy's
/// `Proxy-Authorization`, and a URL's userinfo as HTTP clients send it and a server may echo it
/// back, which redaction must recognise).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Coder's API keys are `<10-character id>-<22-character secret>`, both alphanumeric.
fn looks_like_coder_token(word: &str) -> bool {
    match word.split_once('-') {
        Some((id, secret)) => {
            id.len() == 10
                && secret.len() == 22
                && id
                    .chars()
                    .chain(secret.chars())
                    .all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// A host name with `user:password@` in front (not valid in a host name, but a DERP map or
/// flag may carry one): the userinfo hidden whole, the host kept.
pub fn redact_host(host: &str) -> String {
    match host.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &host[at + 1..]),
        None => host.to_string(),
    }
}

fn percent_encode_all_reserved(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// PostgreSQL's URL schemes.
fn is_postgres(url: &url::Url) -> bool {
    matches!(url.scheme(), "postgres" | "postgresql")
}

/// Query keys of a PostgreSQL URL whose values are secrets.
const SECRET_DSN_KEYS: &[&str] = &["password", "sslpassword"];

/// The secret query values of a PostgreSQL URL, each as written and decoded.
fn secret_query_values(url: &url::Url) -> Vec<(String, String)> {
    url.query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| SECRET_DSN_KEYS.contains(&key.to_ascii_lowercase().as_str()))
        .map(|(_, value)| {
            let decoded = url::form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            (value.to_string(), decoded)
        })
        .collect()
}

/// The password in `user:password@` of a value that may have no scheme or not parse: the text
/// between the first `:` and the last `@` of the authority (after `://`, if any).
fn userinfo_password(value: &str) -> Option<&str> {
    let rest = match value.find("://") {
        Some(i) => &value[i + 3..],
        None => value,
    };
    let at = rest.rfind('@')?;
    let (_, password) = rest[..at].split_once(':')?;
    (!password.is_empty()).then_some(password)
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A PostgreSQL URL's query with the values of secret keys replaced, the rest kept.
fn redact_dsn_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if SECRET_DSN_KEYS.contains(&key.to_ascii_lowercase().as_str()) => {
                format!("{key}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL with its password replaced, for display. The query of a PostgreSQL URL keeps its
/// settings and loses only its passwords; any other URL's query is hidden whole.
pub fn redact_url(raw: &str) -> String {
    if let Ok(url) = url::Url::parse(raw) {
        if is_postgres(&url) {
            let mut url = url;
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted-marker"));
            }
            let query = url.query().map(redact_dsn_query);
            let mut out = url.to_string().replacen("redacted-marker", REDACTED, 1);
            if let (Some(query), Some(q)) = (query, out.find('?')) {
                let fragment = out[q..].find('#').map(|f| out[q + f..].to_string());
                out.truncate(q + 1);
                out.push_str(&query);
                out.push_str(&fragment.unwrap_or_default());
            }
            return out;
        }
    }
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() || url.query().is_some() => {
            // The url crate percent-encodes brackets, so put plain markers in first. Query
            // strings are hidden whole: presigned URLs carry their signature there.
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted-marker"));
            }
            if url.query().is_some() {
                url.set_query(Some("redacted-query"));
            }
            url.to_string()
                .replacen("redacted-marker", REDACTED, 1)
                .replacen("redacted-query", REDACTED, 1)
        }
        Ok(_) => raw.to_string(),
        // Not a URL: still hide anything that looks like `user:password@`, and the query.
        Err(_) => {
            let (mut out, host_from) = match (raw.find("://"), raw.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let userinfo = &raw[scheme_end + 3..at];
                    match userinfo.split_once(':') {
                        Some((user, _)) => {
                            let head = format!("{}{user}:{REDACTED}", &raw[..scheme_end + 3]);
                            (format!("{head}{}", &raw[at..]), head.len())
                        }
                        None => (raw.to_string(), at),
                    }
                }
                (Some(scheme_end), _) => (raw.to_string(), scheme_end + 3),
                _ => (raw.to_string(), 0),
            };
            if let Some(q) = out[host_from..].find('?') {
                out.truncate(host_from + q + 1);
                out.push_str(REDACTED);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_spelling() {
        let mut secrets = Secrets::default();
        secrets.add("p@ss word");
        assert_eq!(secrets.scrub("x p@ss word y"), "x [REDACTED] y");
        assert_eq!(secrets.scrub("x p%40ss%20word y"), "x [REDACTED] y");
        assert_eq!(secrets.scrub("x p%40ss+word y"), "x [REDACTED] y");
        let mut quoted = Secrets::default();
        quoted.add("a\"b\\c");
        assert_eq!(
            quoted.scrub(r#"{"m": "a\"b\\c"}"#),
            r#"{"m": "[REDACTED]"}"#
        );
    }

    #[test]
    fn json_scrub_keeps_the_shape() {
        let mut secrets = Secrets::default();
        secrets.add("true");
        secrets.add("database");
        let mut doc = serde_json::json!({"healthy": true, "database": {"error": "database true"}});
        secrets.scrub_json(&mut doc);
        assert_eq!(
            doc,
            serde_json::json!({"healthy": true, "database": {"error": "[REDACTED] [REDACTED]"}})
        );
    }

    #[test]
    fn json_text_scrub_keeps_the_shape_and_matches_the_tree_scrub() {
        let mut secrets = Secrets::default();
        for s in ["true", "database", "a\"b\\c", "p\u{e9}ss"] {
            secrets.add(s);
        }
        let doc = serde_json::json!({"healthy": true, "database": {"error": "database true",
            "quoted": "x a\"b\\c y", "accent": "p\u{e9}ss!", "list": ["true", 1, null]}});
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let scrubbed: serde_json::Value =
            serde_json::from_str(&secrets.scrub_json_text(&text)).unwrap();
        let mut tree = doc.clone();
        secrets.scrub_json(&mut tree);
        assert_eq!(scrubbed, tree);
        assert_eq!(scrubbed["database"]["quoted"], "x [REDACTED] y");
        assert_eq!(scrubbed["healthy"], true);
    }

    #[test]
    fn raw_input_candidates_cover_misplaced_secrets() {
        let args: Vec<String> = [
            "healthcheck",
            "run",
            "postgres://u:dsn-pass-1@db/coder",
            "--timeout",
            "abcdefghij-ABCDEFGHIJKLMNOPQRSTUV",
            "--session-token",
            "typo-token-value",
            "--token=flag-token-value\n",
            "--access-url=https://bob:url-pass-1@x/?sig=query-secret",
            "host=db password=kv-pass-1",
        ]
        .map(String::from)
        .to_vec();
        let env = vec![
            ("MY_API_TOKEN".to_string(), "env-token-value".to_string()),
            (
                "HEALTHCHECK_TIMEOUT".to_string(),
                "zyxwvutsrq-0123456789abcdefghijkl".to_string(),
            ),
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ];
        let secrets = Secrets::from_raw_input(&args, &env, crate::net::dsn::password_of);
        for secret in [
            "dsn-pass-1",
            "abcdefghij-ABCDEFGHIJKLMNOPQRSTUV",
            "typo-token-value",
            "flag-token-value",
            "url-pass-1",
            "sig=query-secret",
            "kv-pass-1",
            "env-token-value",
            "zyxwvutsrq-0123456789abcdefghijkl",
        ] {
            let text = format!("error: invalid value '{secret}' for '--x'");
            assert!(!secrets.scrub(&text).contains(secret), "{secret}");
        }
        assert_eq!(secrets.scrub("/usr/bin:/bin run"), "/usr/bin:/bin run");
    }

    #[test]
    fn basic_auth_spelling_of_url_credentials_is_scrubbed() {
        assert_eq!(base64(b"admin:pw"), "YWRtaW46cHc=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        let secrets = Secrets::collect(None, [], [Some("http://admin:pw%40x@h/")]);
        assert_eq!(
            secrets.scrub("Authorization: Basic YWRtaW46cHdAeA=="),
            "Authorization: Basic [REDACTED]"
        );
    }

    #[test]
    fn host_userinfo_is_hidden() {
        assert_eq!(
            redact_host("bob:pw123@relay.example"),
            "[REDACTED]@relay.example"
        );
        assert_eq!(redact_host("relay.example"), "relay.example");
    }

    #[test]
    fn dsn_settings_stay_readable_and_only_passwords_are_hidden() {
        let dsn = "postgres://coder:Pw-Secret-9@db:5432/coder?sslmode=require&sslrootcert=/etc/ca.pem&password=Qry-Secret-8&connect_timeout=5&application_name=hc";
        assert_eq!(
            redact_url(dsn),
            "postgres://coder:[REDACTED]@db:5432/coder?sslmode=require&sslrootcert=/etc/ca.pem&password=[REDACTED]&connect_timeout=5&application_name=hc"
        );
        let secrets = Secrets::from_raw_input(
            &["--postgres-url".to_string(), dsn.to_string()],
            &[],
            crate::net::dsn::password_of,
        );
        let message =
            "the server at db:5432 does not support TLS, but sslmode=require requires it \
                       (sslrootcert=/etc/ca.pem, connect_timeout=5, application_name=hc)";
        assert_eq!(secrets.scrub(message), message);
        for secret in ["Pw-Secret-9", "Qry-Secret-8"] {
            assert_eq!(secrets.scrub(secret), REDACTED, "{secret}");
        }
    }

    #[test]
    fn scheme_less_and_broken_userinfo_is_a_secret() {
        for value in [
            "pxuser:Form-Secret-1@proxy.corp.test:99999",
            "pxuser:Form-Secret-1@proxy corp.test:3128",
            "pxuser:Form-Secret-1@[fd00::1:3128",
            "pxuser:Form-Secret-1@",
            "http://pxuser:Form-Secret-1@:3128",
            "pxuser:Form%2DSecret-1@proxy:3128",
        ] {
            let env = vec![("HTTPS_PROXY".to_string(), value.to_string())];
            let secrets = Secrets::from_raw_input(&[], &env, crate::net::dsn::password_of);
            let shown = secrets.scrub(&format!("HTTPS_PROXY: bad: {value}; Form-Secret-1"));
            assert!(!shown.contains("Form-Secret-1"), "{value}: {shown}");
            assert!(!shown.contains("Form%2DSecret-1"), "{value}: {shown}");
        }
    }

    #[test]
    fn redacts_url_passwords() {
        assert_eq!(
            redact_url("https://bob:hunter22@example.com/x"),
            "https://bob:[REDACTED]@example.com/x"
        );
        assert_eq!(redact_url("https://example.com/"), "https://example.com/");
        assert_eq!(
            redact_url("https://s3.example/map.json?X-Amz-Signature=abc"),
            "https://s3.example/map.json?[REDACTED]"
        );
        assert_eq!(
            redact_url("ht tp://bob:hunter22@example.com"),
            "ht tp://bob:[REDACTED]@example.com"
        );
        // Found by tests/properties.rs: a non-URL's query was kept.
        assert_eq!(
            redact_url("ht tp://a:Pw?x@h/p?sig=123"),
            "ht tp://a:[REDACTED]@h/p?[REDACTED]"
        );
    }
}

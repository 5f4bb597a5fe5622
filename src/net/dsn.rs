//! libpq connection strings: the URI (`postgres://`, `postgresql://`) and `key=value` forms,
//! with libpq's keywords and sslmode names. Parse errors never quote values, which could be
//! pieces of a password.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::redact::REDACTED;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "invalid sslmode {other:?}: expected disable, allow, prefer, require, verify-ca or verify-full"
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed DSN. Its `Display` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn {
    pub hosts: Vec<String>,
    /// libpq's `hostaddr`: numeric addresses to connect to; `host` then only names the server
    /// for TLS.
    pub hostaddrs: Vec<std::net::IpAddr>,
    pub ports: Vec<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    /// libpq's `options` (server settings at start-up, e.g. `-c search_path=coder`).
    pub options: Option<String>,
    /// `search_path`, which Coder's docs use in the DSN for a custom schema.
    pub search_path: Option<String>,
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dsn({self})")
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}")?;
            if self.password.is_some() {
                write!(f, ":{REDACTED}")?;
            }
            write!(f, "@")?;
        }
        write!(f, "{}", self.endpoint())?;
        if let Some(db) = &self.dbname {
            write!(f, "/{db}")?;
        }
        write!(f, "?sslmode={}", self.sslmode.as_str())
    }
}

impl Default for Dsn {
    fn default() -> Self {
        Dsn {
            hosts: Vec::new(),
            hostaddrs: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            connect_timeout: None,
            application_name: None,
            options: None,
            search_path: None,
        }
    }
}

/// Keywords we act on.
const KNOWN_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "search_path",
];

/// libpq keywords we accept but do not act on, so valid DSNs are not refused.
const IGNORED_KEYWORDS: &[&str] = &[
    "fallback_application_name",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "load_balance_hosts",
    "channel_binding",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "sslcompression",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslpassword",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "service",
    "passfile",
    "replication",
    "require_auth",
    "sslcertmode",
];

impl Dsn {
    pub fn parse(input: &str) -> Result<Dsn, String> {
        let trimmed = input.trim();
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            parse_uri(trimmed)
        } else if trimmed.contains('=') {
            parse_key_values(trimmed)
        } else if trimmed.contains("://") {
            Err("unsupported DSN scheme: expected postgres:// or postgresql://".to_string())
        } else {
            Err("not a PostgreSQL DSN: expected postgres://... or key=value pairs".to_string())
        }
    }

    /// `host:port` of the first host, for messages.
    pub fn endpoint(&self) -> String {
        let addr = self.hostaddrs.first().map(|a| a.to_string());
        let host = addr
            .as_deref()
            .or(self.hosts.first().map(String::as_str))
            .unwrap_or("localhost");
        let port = self.ports.first().copied().unwrap_or(5432);
        if host.starts_with('/') {
            format!("{host}/.s.PGSQL.{port}")
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        match key {
            "host" => {
                self.hosts = value
                    .split(',')
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .collect()
            }
            "hostaddr" => {
                self.hostaddrs = value
                    .split(',')
                    .filter(|a| !a.trim().is_empty())
                    .map(|a| {
                        a.trim().parse().map_err(|_| {
                            "invalid hostaddr: expected numeric IP addresses".to_string()
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            "port" => {
                self.ports = value
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| {
                        p.trim().parse::<u16>().map_err(|_| {
                            "invalid port in DSN: expected a number 1-65535".to_string()
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "dbname" => self.dbname = Some(value),
            "sslmode" => self.sslmode = SslMode::parse(&value)?,
            "sslrootcert" => self.sslrootcert = Some(value),
            "sslcert" => self.sslcert = Some(PathBuf::from(value)),
            "sslkey" => self.sslkey = Some(PathBuf::from(value)),
            "application_name" => self.application_name = Some(value),
            "options" => self.options = Some(value),
            "search_path" => self.search_path = Some(value),
            "connect_timeout" => {
                let secs: i64 = value.trim().parse().map_err(|_| {
                    format!("invalid connect_timeout {value:?}: expected whole seconds")
                })?;
                // libpq: zero or negative means wait forever; our section deadline still applies.
                self.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs as u64));
            }
            other if IGNORED_KEYWORDS.contains(&other) => {}
            // The text is quoted only when it is a near miss of a keyword: with an unquoted
            // space, other text may be part of a password.
            other => {
                return Err(match closest_keyword(other) {
                    Some(keyword) => format!(
                        "invalid connection option {other:?}: libpq has no such keyword; \
                         did you mean {keyword}?"
                    ),
                    None => "invalid connection option (a keyword libpq does not know; \
                             quote values that contain spaces)"
                        .to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The keyword a mistyped one was meant to be: one or two edits away (`sslmod`, `sslmdoe`).
fn closest_keyword(typed: &str) -> Option<&'static str> {
    if typed.len() < 4 || !typed.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    KNOWN_KEYWORDS
        .iter()
        .chain(IGNORED_KEYWORDS)
        .map(|keyword| (edit_distance(typed, keyword), *keyword))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, keyword)| keyword)
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The password in a DSN, if any, without failing on DSNs that do not parse.
pub fn password_of(dsn: &str) -> Option<String> {
    if let Ok(parsed) = Dsn::parse(dsn) {
        return parsed.password;
    }
    // Fall back to the URI userinfo or the key=value pair, so even a broken DSN's password is
    // scrubbed. A URI is a scheme then `://` at the very start; `://` elsewhere (inside a
    // quoted password, say) does not make one.
    let trimmed = dsn.trim_start();
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        let is_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            let userinfo = &rest[..rest.rfind('@')?];
            let password = userinfo.split_once(':')?.1;
            return Some(percent_decode(password).unwrap_or_else(|_| password.to_string()));
        }
    }
    // The `password` key: at the start or after whitespace, then `=` (spaces allowed around).
    let value = trimmed.match_indices("password").find_map(|(at, key)| {
        let before_ok = trimmed[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let rest = trimmed[at + key.len()..].trim_start().strip_prefix('=')?;
        before_ok.then(|| rest.trim_start())
    })?;
    let value = match value.strip_prefix('\'') {
        // libpq's quoting: `\\` and `\'` stand for themselves, `'` ends the value.
        Some(quoted) => {
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '\'' => break,
                    c => out.push(c),
                }
            }
            out
        }
        None => value.split_whitespace().next().unwrap_or(value).to_string(),
    };
    (!value.is_empty()).then_some(value)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let decoded: Vec<u8> =
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned().into_bytes())
            .unwrap_or_default();
    String::from_utf8(decoded).map_err(|_| "invalid UTF-8 after percent-decoding".to_string())
}

fn parse_uri(input: &str) -> Result<Dsn, String> {
    let rest = input.split_once("://").map(|(_, r)| r).unwrap_or_default();
    // The user info ends at the last '@', so a password with an unencoded '/', '?' or '#' is
    // still read whole (and never echoed in an error as a host or port).
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (hostlist, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], Some(&before_query[i + 1..])),
        None => (before_query, None),
    };
    let mut dsn = Dsn::default();
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            dsn.user = Some(percent_decode(user).map_err(|e| format!("user: {e}"))?);
        }
        if let Some(p) = password {
            dsn.password = Some(percent_decode(p).map_err(|e| format!("password: {e}"))?);
        }
    }
    let mut ports = Vec::new();
    for entry in hostlist.split(',').filter(|e| !e.is_empty()) {
        let (host, port) = split_host_port(entry)?;
        if !host.is_empty() {
            dsn.hosts
                .push(percent_decode(&host).map_err(|e| format!("host: {e}"))?);
        }
        ports.push(port);
    }
    // A host written without a port gets libpq's default, not its neighbour's port.
    if ports.iter().any(Option::is_some) {
        dsn.ports = ports.into_iter().map(|p| p.unwrap_or(5432)).collect();
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        dsn.dbname = Some(percent_decode(db).map_err(|e| format!("dbname: {e}"))?);
    }
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("invalid URI query parameter {pair:?}: expected key=value"))?;
        let value = percent_decode(value).map_err(|e| format!("{key}: {e}"))?;
        dsn.set(key, value)?;
    }
    Ok(dsn)
}

fn split_host_port(entry: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = |_: &str| "invalid port in DSN: expected a number 1-65535".to_string();
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in DSN host".to_string())?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad_port(p))?),
            None if after.is_empty() => None,
            None => return Err("unexpected text after an IPv6 host in DSN".to_string()),
        };
        return Ok((host.to_string(), port));
    }
    match entry.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((entry.to_string(), None)),
    }
}

/// libpq's `key=value` form: values may be single-quoted with `\'` and `\\` escapes.
fn parse_key_values(input: &str) -> Result<Dsn, String> {
    let mut dsn = Dsn::default();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(
                "missing \"=\" after a keyword in the connection string (quote values that \
                 contain spaces)"
                    .to_string(),
            );
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => break,
                    },
                    '\'' => {
                        closed = true;
                        break;
                    }
                    other => value.push(other),
                }
            }
            if !closed {
                return Err(format!(
                    "unterminated quoted value for {} in the connection string",
                    if KNOWN_KEYWORDS.contains(&key.as_str()) {
                        key.as_str()
                    } else {
                        "a keyword"
                    }
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        dsn.set(&key, value)?;
    }
    Ok(dsn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_of_a_broken_dsn_finds_the_password_key_itself() {
        // `://` inside a quoted password does not make a URI (found by proptest).
        assert_eq!(
            password_of("host=h password='Pw://' sslmode=bogus").as_deref(),
            Some("Pw://")
        );
        // `password` inside another key's value is not the key.
        assert_eq!(
            password_of("user=passwordless password=s3cret sslmode=bogus").as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            password_of("postgres://u:p%40ss@h/db?sslmode=bogus").as_deref(),
            Some("p@ss")
        );
    }

    #[test]
    fn parses_uri_form() {
        let dsn = Dsn::parse(
            "postgresql://coder:p%40ss@db.example:6432/coderdb?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(dsn.hosts, vec!["db.example"]);
        assert_eq!(dsn.ports, vec![6432]);
        assert_eq!(dsn.user.as_deref(), Some("coder"));
        assert_eq!(dsn.password.as_deref(), Some("p@ss"));
        assert_eq!(dsn.dbname.as_deref(), Some("coderdb"));
        assert_eq!(dsn.sslmode, SslMode::VerifyFull);
        assert_eq!(dsn.sslrootcert.as_deref(), Some("/ca.pem"));
        assert_eq!(dsn.connect_timeout, Some(Duration::from_secs(3)));
        assert!(!dsn.to_string().contains("p@ss"));
    }

    #[test]
    fn parses_ipv6_and_defaults() {
        let dsn = Dsn::parse("postgres://[::1]:5433").unwrap();
        assert_eq!(dsn.hosts, vec!["::1"]);
        assert_eq!(dsn.endpoint(), "[::1]:5433");
        assert_eq!(dsn.sslmode, SslMode::Prefer);
    }

    #[test]
    fn parses_key_value_form() {
        let dsn = Dsn::parse(
            "host=localhost port=5432 user=coder password='it''s' dbname = coder sslmode=allow",
        );
        // libpq escapes quotes with backslash, not doubling: the doubled quote ends the value.
        assert!(dsn.is_err());
        let dsn = Dsn::parse(r"host=localhost password='it\'s secret' sslmode=require").unwrap();
        assert_eq!(dsn.password.as_deref(), Some("it's secret"));
        assert_eq!(dsn.sslmode, SslMode::Require);
    }

    #[test]
    fn rejects_bad_input_clearly() {
        assert!(Dsn::parse("postgres://h/db?sslmode=bogus")
            .unwrap_err()
            .contains("invalid sslmode"));
        assert!(Dsn::parse("host=h frobnicate=1")
            .unwrap_err()
            .contains("invalid connection option"));
        assert!(Dsn::parse("mysql://h/db").unwrap_err().contains("scheme"));
        // A near miss of a keyword is named, with the keyword meant.
        for typo in ["host=h sslmod=disable", "postgres://h/db?sslmod=disable"] {
            let e = Dsn::parse(typo).unwrap_err();
            assert!(
                e.starts_with("invalid connection option \"sslmod\"")
                    && e.contains("did you mean sslmode?"),
                "{e}"
            );
        }
        assert!(Dsn::parse("host=h connect_timout=5")
            .unwrap_err()
            .contains("did you mean connect_timeout?"));
        assert!(!Dsn::parse("host=h frobnicate=1")
            .unwrap_err()
            .contains("frobnicate"));
        assert!(Dsn::parse("postgres://h:notaport/db")
            .unwrap_err()
            .contains("invalid port"));
    }

    #[test]
    fn parse_errors_never_echo_password_fragments() {
        for dsn in [
            "postgres://coder:ab/cdXY@db/coder",
            "postgres://coder:sec?retXY@db:bad/coder",
            "host=db password=my secretword",
            "host=db password='unterminated secretword",
        ] {
            if let Err(e) = Dsn::parse(dsn) {
                assert!(!e.contains("XY") && !e.contains("secretword"), "{e}");
            }
            let password = password_of(dsn).unwrap();
            assert!(
                password.contains("XY")
                    || password.starts_with("my")
                    || password.contains("unterminated"),
                "{password}"
            );
        }
        let dsn = Dsn::parse("postgres://coder:ab/cd?x@db:6000/coder").unwrap();
        assert_eq!(dsn.password.as_deref(), Some("ab/cd?x"));
        assert_eq!(dsn.hosts, vec!["db"]);
    }

    #[test]
    fn hosts_without_ports_get_the_default() {
        let dsn = Dsn::parse("postgres://h1,h2:6000/db").unwrap();
        assert_eq!(dsn.ports, vec![5432, 6000]);
        let dsn = Dsn::parse("host=db.internal hostaddr=127.0.0.1 port=5433").unwrap();
        assert_eq!(dsn.endpoint(), "127.0.0.1:5433");
    }

    #[test]
    fn password_found_even_in_broken_dsn() {
        assert_eq!(
            password_of("postgres://u:s3cret@h:bad/db").as_deref(),
            Some("s3cret")
        );
        // Found by tests/properties.rs: libpq's quoting in a DSN that does not parse.
        assert_eq!(
            password_of(r"host=h password='Pw\'s \\x' sslmode=bogus").as_deref(),
            Some(r"Pw's \x")
        );
    }
}

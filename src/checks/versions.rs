//! Shared by the Provisioner Daemons and Workspace Proxies sections.
//!
//! Coder's version rules, which the `semver` crate gets wrong both ways: Go's semver requires the
//! leading `v` (so `2.18.1` is invalid) and accepts the short forms `v2` and `v2.18`; Coder
//! compares only major.minor and lets untagged `v0.0.0` dev builds match everything.

/// Coder's marker for an untagged development build.
const DEVEL_PREFIX: &str = "v0.0.0";

/// The parts of a valid Go semver string that matter here.
#[derive(Debug, PartialEq, Eq)]
struct Parsed<'a> {
    major: &'a str,
    minor: &'a str,
}

/// Go's `semver.IsValid`.
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// Go's `semver.MajorMinor`: `vMAJOR.MINOR`, or `""` for an invalid version.
pub fn major_minor(v: &str) -> String {
    match parse(v) {
        Some(p) => format!("v{}.{}", p.major, p.minor),
        None => String::new(),
    }
}

/// Coder's `buildinfo.VersionsMatch`: dev builds match anything; otherwise major.minor decides
/// (patch, pre-release and build metadata are ignored).
pub fn versions_match(a: &str, b: &str) -> bool {
    if a.contains(DEVEL_PREFIX) || b.contains(DEVEL_PREFIX) {
        return true;
    }
    major_minor(a) == major_minor(b)
}

fn parse(v: &str) -> Option<Parsed<'_>> {
    let rest = v.strip_prefix('v')?;
    let (major, rest) = number(rest)?;
    let Some(rest) = rest.strip_prefix('.') else {
        // `v2` is shorthand for v2.0.0.
        return rest.is_empty().then_some(Parsed { major, minor: "0" });
    };
    let (minor, rest) = number(rest)?;
    let Some(rest) = rest.strip_prefix('.') else {
        // `v2.18` is shorthand for v2.18.0; no pre-release or build allowed on a short form.
        return rest.is_empty().then_some(Parsed { major, minor });
    };
    let (_patch, mut rest) = number(rest)?;
    if let Some(pre) = rest.strip_prefix('-') {
        let end = pre.find('+').unwrap_or(pre.len());
        if !identifiers(&pre[..end], true) {
            return None;
        }
        rest = &pre[end..];
    }
    if let Some(build) = rest.strip_prefix('+') {
        if !identifiers(build, false) {
            return None;
        }
        rest = "";
    }
    rest.is_empty().then_some(Parsed { major, minor })
}

/// A decimal number without leading zeros, and what follows it.
fn number(s: &str) -> Option<(&str, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 || (end > 1 && s.starts_with('0')) {
        return None;
    }
    Some((&s[..end], &s[end..]))
}

/// Dot-separated, non-empty `[0-9A-Za-z-]` identifiers; pre-release numbers may not have
/// leading zeros.
fn identifiers(s: &str, prerelease: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(prerelease
                && id.len() > 1
                && id.starts_with('0')
                && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Coder's `apiversion.Parse`: exactly `<int>.<int>`, each part parsed like Go's `strconv.Atoi`
/// (a leading sign is accepted). The error texts are Coder's.
pub fn parse_api_version(v: &str) -> Result<(i64, i64), String> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 2 {
        return Err(format!("invalid version string: {v}"));
    }
    let major = atoi(parts[0]).ok_or_else(|| format!("invalid major version: {v}"))?;
    let minor = atoi(parts[1]).ok_or_else(|| format!("invalid minor version: {v}"))?;
    Ok((major, minor))
}

fn atoi(s: &str) -> Option<i64> {
    // Rust's parser accepts the same forms as Go's Atoi: optional sign, then decimal digits.
    s.parse::<i64>().ok()
}

/// The server's provisioner API major from buildinfo's `provisioner_api_version` (`"1.20"` -> 1);
/// servers too old to report it speak major 1.
pub fn server_api_major(reported: Option<&str>) -> Result<i64, String> {
    match reported {
        None => Ok(1),
        Some(v) => parse_api_version(v).map(|(major, _)| major),
    }
}

/// Go's `%q` for a string: double quotes, with escapes for quotes, backslashes and control
/// characters.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_table() {
        // coder-test-scenarios.md I.
        let cases = [
            ("v1.2.3", "v1.2.3", true),
            ("v0.0.0-devel+123abac", "v1.2.3", true),
            ("v1.1.1-devel+123abac", "v1.2.3", false),
            ("v1.1.1-devel+123abac", "v1.1.9", true),
            ("v1.2.3", "v0.1.2", false),
            ("v1.2.3", "v1.3.2", false),
            ("v1.2.3+hash.whocares", "v1.2.4+somestuff.hm.ok", true),
        ];
        for (a, b, want) in cases {
            assert_eq!(versions_match(a, b), want, "{a} vs {b}");
            assert_eq!(versions_match(b, a), want, "{b} vs {a}");
        }
    }

    #[test]
    fn newer_and_older_both_mismatch() {
        assert!(!versions_match("v2.18.1", "v2.19.0"));
        assert!(!versions_match("v2.18.1", "v2.17.9"));
        assert!(!versions_match("v2.18.1", "v3.18.1"));
    }

    #[test]
    fn go_semver_validity() {
        for valid in [
            "v2.18.0",
            "v2.18.0-devel+abc",
            "v2.18.1+abc1234",
            "v2",
            "v2.18",
            "v1.0.0-rc.1",
            "v1.0.0-0a",
        ] {
            assert!(is_valid(valid), "{valid} should be valid");
        }
        for invalid in [
            "",
            "2.18.0",
            "invalid",
            "v",
            "v2.",
            "v2.18.",
            "v02.1.0",
            "v2.18-rc1",
            "v1.0.0-01",
            "v1.0.0-",
            "v1.0.0+",
            "v1.0.0+a..b",
            "v1.0.0 ",
            "V1.0.0",
        ] {
            assert!(!is_valid(invalid), "{invalid:?} should be invalid");
        }
        assert_eq!(major_minor("v2"), "v2.0");
        assert_eq!(major_minor("v2.18.1+x"), "v2.18");
        assert_eq!(major_minor("2.18.1"), "");
    }

    #[test]
    fn the_semver_crate_would_get_these_wrong() {
        // Without `v` Coder calls it invalid; patch differences match; dev builds match all.
        assert!(!is_valid("2.18.1"));
        assert!(versions_match("v2.18.1", "v2.18.7"));
        assert!(versions_match("v0.0.0-devel", "v9.9.9"));
        // Two invalid versions "match" in Coder (both have an empty MajorMinor).
        assert!(versions_match("invalid", "also invalid"));
        assert!(!versions_match("invalid", "v1.2.3"));
    }

    #[test]
    fn api_version_parse_errors_are_coders() {
        assert_eq!(parse_api_version("1.0"), Ok((1, 0)));
        assert_eq!(parse_api_version("1.20"), Ok((1, 20)));
        assert_eq!(parse_api_version("+1.-2"), Ok((1, -2)));
        assert_eq!(
            parse_api_version("invalid").unwrap_err(),
            "invalid version string: invalid"
        );
        assert_eq!(
            parse_api_version("x.1").unwrap_err(),
            "invalid major version: x.1"
        );
        assert_eq!(
            parse_api_version("1.x").unwrap_err(),
            "invalid minor version: 1.x"
        );
        assert_eq!(
            parse_api_version("v1.0").unwrap_err(),
            "invalid major version: v1.0"
        );
        assert_eq!(
            parse_api_version("1").unwrap_err(),
            "invalid version string: 1"
        );
        assert_eq!(
            parse_api_version("1.0.0").unwrap_err(),
            "invalid version string: 1.0.0"
        );
        assert_eq!(
            parse_api_version("").unwrap_err(),
            "invalid version string: "
        );
        assert_eq!(
            parse_api_version(".1").unwrap_err(),
            "invalid major version: .1"
        );
    }

    #[test]
    fn server_api_major_defaults_to_one() {
        assert_eq!(server_api_major(None), Ok(1));
        assert_eq!(server_api_major(Some("1.20")), Ok(1));
        assert_eq!(server_api_major(Some("2.0")), Ok(2));
        assert!(server_api_major(Some("garbage")).is_err());
    }

    #[test]
    fn go_quote_escapes_like_go() {
        assert_eq!(go_quote("invalid"), "\"invalid\"");
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
        assert_eq!(go_quote("ünï"), "\"ünï\"");
    }
}

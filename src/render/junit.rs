//! `--format junit`: JUnit XML as CI systems read it (GitLab, Jenkins, GitHub test reporters).
//! One test case per section. A section fails exactly when it makes the exit code 1
//! (`report::fails_run`, with `--fail-on`), so the CI's red test and the job's exit status agree;
//! a dismissed section never fails and says so in `<system-out>`, as do warnings below
//! `--fail-on`. `errors` stays 0: every failure is a finding about the deployment.

use std::fmt::Write;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

use super::present::sections;
use super::{rows, RenderError, RenderOptions, Renderer, Row, SectionView, Status};
use crate::report::{fails_run, Report};

pub struct JunitRenderer;

/// One test case, rendered.
struct Case {
    xml: String,
    failed: bool,
    skipped: bool,
    seconds: f64,
}

impl Renderer for JunitRenderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        let cases: Vec<Case> = sections(report)
            .iter()
            .map(|view| case(view, options))
            .collect();
        let failures = cases.iter().filter(|c| c.failed).count();
        let skipped = cases.iter().filter(|c| c.skipped).count();
        let seconds: f64 = cases.iter().map(|c| c.seconds).sum();
        let counts = format!(
            "tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{seconds:.3}\"",
            cases.len()
        );
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(out, "<testsuites name=\"healthcheck\" {counts}>");
        let timestamp = OffsetDateTime::parse(&report.time, &Rfc3339)
            .ok()
            .and_then(|t| {
                // JUnit's schema wants a local date-time without an offset; ours is UTC.
                t.format(format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]"
                ))
                .ok()
            })
            .map(|t| format!(" timestamp=\"{t}\""))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  <testsuite name=\"healthcheck\" {counts}{timestamp}>"
        );
        out.push_str("    <properties>\n");
        for (name, value) in [
            ("access_url", options.access_url.clone().unwrap_or_default()),
            ("coder_version", report.coder_version.clone()),
            (
                "healthcheck_version",
                report.healthcheck_version.to_string(),
            ),
            ("time", report.time.clone()),
        ] {
            let _ = writeln!(
                out,
                "      <property name=\"{name}\" value=\"{}\"/>",
                attr(&options.clean(&value))
            );
        }
        out.push_str("    </properties>\n");
        for case in &cases {
            out.push_str(&case.xml);
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        Ok(out.into_bytes())
    }
}

fn case(view: &SectionView<'_>, options: &RenderOptions) -> Case {
    let base = view.base;
    let seconds = base.duration_ms as f64 / 1000.0;
    let open = format!(
        "    <testcase classname=\"healthcheck\" name=\"{}\" time=\"{seconds:.3}\"",
        attr(view.id.title())
    );
    let mut xml = String::new();
    let all = rows(view);
    let failed = fails_run(view.id, base, options.fail_on);
    let line = |f: &Row| {
        let text = options.clean(&f.text);
        match f.code {
            Some(code) => format!("{code}: {text}"),
            None => text,
        }
    };
    if base.skipped {
        let reason = base.skip_reason.clone().unwrap_or_default();
        let _ = writeln!(
            xml,
            "      <skipped message=\"{}\"/>",
            attr(&options.clean(&reason))
        );
    } else if failed {
        let failing: Vec<&Row> = all
            .iter()
            .filter(|f| matches!(f.status, Status::Error | Status::Warn))
            .collect();
        let primary = failing.first().copied().or(all.first());
        let kind = primary
            .and_then(|f| f.code)
            .map(|c| c.to_string())
            .unwrap_or_else(|| base.severity.as_str().to_string());
        let message = primary.map(line).unwrap_or_default();
        let _ = writeln!(
            xml,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            attr(&kind),
            attr(&message),
            text(&remediation(&failing, options, &line))
        );
    } else {
        let mut notes = Vec::new();
        if base.dismissed {
            notes.push(
                "dismissed: this section's findings are reported but do not fail the run"
                    .to_string(),
            );
        }
        notes.extend(
            all.iter()
                .filter(|f| !matches!(f.status, Status::Ok))
                .map(|f| format!("{}: {}", f.status.label(), line(f))),
        );
        if !notes.is_empty() {
            let _ = writeln!(
                xml,
                "      <system-out>{}</system-out>",
                text(&notes.join("\n"))
            );
        }
    }
    let xml = if xml.is_empty() {
        format!("{open}/>\n")
    } else {
        format!("{open}>\n{xml}    </testcase>\n")
    };
    Case {
        xml,
        failed,
        skipped: base.skipped,
        seconds,
    }
}

/// The failure's text: every failing finding, then each code's problem, solution and docs link.
fn remediation(failing: &[&Row], options: &RenderOptions, line: &dyn Fn(&Row) -> String) -> String {
    let mut out: Vec<String> = failing
        .iter()
        .map(|f| format!("{}: {}", f.status.label(), line(f)))
        .collect();
    let mut codes: Vec<_> = failing.iter().filter_map(|f| f.code).collect();
    codes.sort();
    codes.dedup();
    for code in codes {
        let info = code.info();
        out.push(String::new());
        out.push(format!("{code} {}", info.title));
        out.push(format!("Problem: {}", info.problem));
        out.push(format!("Solution: {}", info.solution));
        out.push(format!("Docs: {}", code.docs_url(&options.docs_url)));
    }
    out.join("\n")
}

/// Characters XML 1.0 does not allow at all (most control characters, U+FFFE, U+FFFF) are
/// dropped; escaping cannot carry them.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Element text.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A double-quoted attribute value; line breaks and tabs as character references, which
/// attribute normalisation would otherwise turn into spaces.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Code, SectionId, Severity};

    fn render(report: &Report, fail_on: Severity) -> String {
        let mut options = RenderOptions::for_run(&crate::settings::Settings::default(), false);
        options.fail_on = fail_on;
        String::from_utf8(JunitRenderer.render(report, &options).unwrap()).unwrap()
    }

    #[test]
    fn escaping_drops_what_xml_cannot_hold() {
        assert_eq!(text("a<b & c>d \"q\""), "a&lt;b &amp; c&gt;d \"q\"");
        assert_eq!(attr("x\"y'z\n"), "x&quot;y&apos;z&#10;");
        assert_eq!(text("bell\u{7}nul\u{0}\u{FFFE}ok"), "bellnulok");
    }

    #[test]
    fn failures_follow_fail_on_and_dismissal() {
        let mut report = Report::default();
        report.base_mut(SectionId::Database).warn(
            Severity::Warning,
            Code::Edb02,
            "median ping 40ms",
        );
        report
            .base_mut(SectionId::Websocket)
            .fail(Code::Ews01, "upgrade answered 502");
        report.base_mut(SectionId::Derp).skip("skipped by --skip");
        report.compute_verdict();
        let xml = render(&report, Severity::Error);
        let counts = format!(
            "tests=\"{}\" failures=\"1\" errors=\"0\" skipped=\"1\"",
            SectionId::ALL.len()
        );
        assert!(xml.contains(&counts), "{xml}");
        assert!(xml.contains("<failure type=\"EWS01\" message=\"EWS01: upgrade answered 502\">"));
        assert!(
            xml.contains("<system-out>WARN: EDB02: median ping 40ms</system-out>"),
            "{xml}"
        );
        assert!(xml.contains("<skipped message=\"skipped by --skip\"/>"));
        let xml = render(&report, Severity::Warning);
        assert!(xml.contains("failures=\"2\""), "{xml}");
        assert!(xml.contains("<failure type=\"EDB02\""));

        report.set_dismissed(&[SectionId::Websocket].into());
        let xml = render(&report, Severity::Error);
        assert!(xml.contains("failures=\"0\""), "{xml}");
        assert!(xml.contains("dismissed: this section"), "{xml}");
        assert!(
            xml.contains("DISMISSED: EWS01: upgrade answered 502"),
            "{xml}"
        );
    }
}

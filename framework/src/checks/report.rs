//! The result of a run of the checks, and Django's way of printing it.

use super::{CheckMessage, Level};

/// What [`run_checks`](super::run_checks) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The messages not silenced, in the order the checks returned them.
    pub messages: Vec<CheckMessage>,
    /// How many messages `silenced_system_checks` hid.
    pub silenced: usize,
}

/// Where a report is printed: Django writes a report with issues to stderr
/// and a clean one to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Django's groups, most serious first.
const GROUPS: [(Level, &str); 5] = [
    (Level::Critical, "CRITICALS"),
    (Level::Error, "ERRORS"),
    (Level::Warning, "WARNINGS"),
    (Level::Info, "INFOS"),
    (Level::Debug, "DEBUGS"),
];

impl Report {
    /// Whether a message is at or above `fail_level` (the command then exits 1).
    pub fn fails(&self, fail_level: Level) -> bool {
        self.messages.iter().any(|m| m.level >= fail_level)
    }

    /// The messages most serious first, each group sorted as Django sorts it
    /// (by the printed text).
    pub fn sorted(&self) -> Vec<&CheckMessage> {
        let mut sorted: Vec<(&CheckMessage, String)> =
            self.messages.iter().map(|m| (m, m.to_string())).collect();
        sorted.sort_by(|(a, a_text), (b, b_text)| {
            b.level.cmp(&a.level).then_with(|| a_text.cmp(b_text))
        });
        sorted.into_iter().map(|(m, _)| m).collect()
    }

    /// The text of Django's `check` command and where it goes:
    ///
    /// ```text
    /// System check identified some issues:
    ///
    /// WARNINGS:
    /// ?: (security.W004) You have not set a value for the secure_hsts_seconds setting. …
    ///     HINT: …   (after a tab)
    ///
    /// System check identified 1 issue (0 silenced).
    /// ```
    ///
    /// When a message is at or above `fail_level` the first line starts
    /// with `SystemCheckError: `, as Django's does. A report without issues
    /// is the last line alone, for stdout.
    pub fn render(&self, fail_level: Level) -> (String, Stream) {
        let mut body = String::new();
        for (level, name) in GROUPS {
            let mut lines: Vec<String> = self
                .messages
                .iter()
                .filter(|m| m.level == level)
                .map(ToString::to_string)
                .collect();
            if lines.is_empty() {
                continue;
            }
            lines.sort();
            body.push_str(&format!("\n{name}:\n{}\n", lines.join("\n")));
        }
        let count = match self.messages.len() {
            0 => "no issues".to_string(),
            1 => "1 issue".to_string(),
            n => format!("{n} issues"),
        };
        let summary = format!(
            "System check identified {count} ({} silenced).",
            self.silenced
        );
        if self.messages.is_empty() {
            return (summary, Stream::Stdout);
        }
        let header = if self.fails(fail_level) {
            "SystemCheckError: System check identified some issues:\n"
        } else {
            "System check identified some issues:\n"
        };
        (format!("{header}{body}\n{summary}"), Stream::Stderr)
    }

    /// One JSON array of `{id, level, message, hint}`, most serious first.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.sorted()).expect("check messages serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(messages: Vec<CheckMessage>, silenced: usize) -> Report {
        Report { messages, silenced }
    }

    #[test]
    fn a_clean_report_is_one_line_for_stdout() {
        let (text, stream) = report(vec![], 3).render(Level::Error);
        assert_eq!(text, "System check identified no issues (3 silenced).");
        assert_eq!(stream, Stream::Stdout);
    }

    #[test]
    fn issues_are_grouped_sorted_and_counted_as_django_does() {
        let messages = vec![
            CheckMessage::warning("security.W008", "no redirect", "set it"),
            CheckMessage::new(Level::Info, "site.I001", "fyi", None),
            CheckMessage::warning("security.W004", "no HSTS", "set secure_hsts_seconds"),
        ];
        let (text, stream) = report(messages, 1).render(Level::Error);
        assert_eq!(stream, Stream::Stderr);
        assert_eq!(
            text,
            "System check identified some issues:\n\
             \n\
             WARNINGS:\n\
             ?: (security.W004) no HSTS\n\
             \tHINT: set secure_hsts_seconds\n\
             ?: (security.W008) no redirect\n\
             \tHINT: set it\n\
             \n\
             INFOS:\n\
             ?: (site.I001) fyi\n\
             \n\
             System check identified 3 issues (1 silenced)."
        );
    }

    #[test]
    fn one_issue_is_singular_and_a_failing_report_says_so() {
        let messages = vec![CheckMessage::error(
            "nuages.E001",
            "cannot write",
            "chown it",
        )];
        let (text, stream) = report(messages.clone(), 0).render(Level::Error);
        assert_eq!(stream, Stream::Stderr);
        assert_eq!(
            text,
            "SystemCheckError: System check identified some issues:\n\nERRORS:\n?: (nuages.E001) cannot write\n\tHINT: chown it\n\nSystem check identified 1 issue (0 silenced)."
        );
        let (text, _) = report(messages, 0).render(Level::Critical);
        assert!(
            text.starts_with("System check identified some issues:\n"),
            "{text}"
        );
    }

    #[test]
    fn fail_level_compares_at_or_above() {
        let r = report(vec![CheckMessage::warning("a.W001", "w", "h")], 0);
        assert!(r.fails(Level::Warning));
        assert!(r.fails(Level::Info));
        assert!(!r.fails(Level::Error));
        assert!(!report(vec![], 0).fails(Level::Debug));
    }

    #[test]
    fn every_group_is_named_most_serious_first() {
        let messages = Level::ALL
            .iter()
            .map(|&level| CheckMessage::new(level, &format!("x.{level}"), "m", None))
            .collect();
        let (text, _) = report(messages, 0).render(Level::Critical);
        let order: Vec<usize> = ["CRITICALS:", "ERRORS:", "WARNINGS:", "INFOS:", "DEBUGS:"]
            .iter()
            .map(|group| {
                text.find(group)
                    .unwrap_or_else(|| panic!("{group} missing: {text}"))
            })
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.starts_with("SystemCheckError: "), "{text}");
    }

    #[test]
    fn json_is_one_array_of_id_level_message_hint() {
        let messages = vec![
            CheckMessage::warning("security.W004", "no HSTS", "set it"),
            CheckMessage::new(Level::Error, "nuages.E003", "bad \"template\"", None),
        ];
        let value: serde_json::Value =
            serde_json::from_str(&report(messages, 0).to_json()).unwrap();
        assert_eq!(
            value,
            serde_json::json!([
                {"id": "nuages.E003", "level": "ERROR", "message": "bad \"template\"", "hint": null},
                {"id": "security.W004", "level": "WARNING", "message": "no HSTS", "hint": "set it"},
            ])
        );
        assert_eq!(report(vec![], 2).to_json(), "[]");
    }
}

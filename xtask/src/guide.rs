//! One row of the troubleshooting guide, `docs/troubleshooting.md`: a stable id (the entry's
//! anchor), its exit code, and what the user sees, why, and what to do. The rows live beside
//! the code that reports them (`doctor::Problem`, `kube::Kind`, `kube::HELM_UPGRADE_FAILED`,
//! `kube::READY_TIMEOUT`); `cargo xtask render` writes the guide from them and
//! `render --check` fails when it is out of date.

/// Where the guide lives, relative to the repository root.
pub const GUIDE: &str = "docs/troubleshooting.md";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Stable, SCREAMING_SNAKE_CASE; its lower case is the entry's anchor in the guide.
    pub id: &'static str,
    pub exit_code: u8,
    /// Reported but never a failure (the exit code is then reserved, not returned).
    pub warning: bool,
    /// A few words for tables.
    pub title: &'static str,
    pub symptom: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
}

/// The anchor of an id in the guide: GitHub's heading anchor of `### ID` (lower case).
pub fn anchor(id: &str) -> String {
    id.to_lowercase()
}

/// What every message carrying an id adds: `see docs/troubleshooting.md#tool_helm_missing`.
pub fn see(id: impl std::fmt::Display) -> String {
    format!("see {GUIDE}#{}", anchor(&id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn see_points_at_the_lower_case_anchor() {
        assert_eq!(
            see("TOOL_HELM_MISSING"),
            "see docs/troubleshooting.md#tool_helm_missing"
        );
    }
}

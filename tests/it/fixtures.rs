//! The real pages and the seed issue are kept byte for byte as saved: every test that reads them
//! relies on their exact bytes (charsets, line ends, typos), and their READMEs give checksums.

use sha2::{Digest, Sha256};

use crate::support::fixture_path;

/// Checks every file listed in `dir/SHA256SUMS` (`sha256sum`'s format) and that nothing else is
/// in `dir` but the README.
fn check(dir: &str) {
    let sums = std::fs::read_to_string(fixture_path(dir).join("SHA256SUMS"))
        .unwrap_or_else(|e| panic!("{dir}/SHA256SUMS: {e}"));
    let mut listed = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sum, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("{dir}/SHA256SUMS: malformed line {line:?}"));
        let bytes = std::fs::read(fixture_path(dir).join(name))
            .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(actual, sum, "{dir}/{name} differs from the file as saved");
        listed.push(name.to_owned());
    }
    for entry in std::fs::read_dir(fixture_path(dir)).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            ["SHA256SUMS", "README.md"].contains(&name.as_str()) || listed.contains(&name),
            "{dir}/{name} is not listed in {dir}/SHA256SUMS"
        );
    }
    assert!(!listed.is_empty());
}

#[test]
fn real_pages_are_kept_as_saved() {
    check("real");
}

#[test]
fn the_seed_issue_is_kept_as_saved() {
    check("seed");
}

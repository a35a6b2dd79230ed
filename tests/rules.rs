//! The rule map (docs/rules.md) against the code: every SPEC rule id is cited by at least one test
//! or marked pending with the issue that will cite it, a pending id is really cited by no test, every
//! id a test cites is known, and the map lists exactly SPEC.md's ids.
//!
//! `UPDATE_RULES=1 cargo test --test rules` rewrites the map's tests column from the code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A rule id: 2–5 uppercase letters, a hyphen, two digits (`RS-03`).
fn ids_in(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_uppercase() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < b.len() && b[i].is_ascii_uppercase() {
                i += 1;
            }
            let letters = i - start;
            if (2..=5).contains(&letters)
                && i + 3 <= b.len()
                && b[i] == b'-'
                && b[i + 1].is_ascii_digit()
                && b[i + 2].is_ascii_digit()
                && (i + 3 == b.len() || !b[i + 3].is_ascii_alphanumeric())
            {
                out.push(text[start..i + 3].to_owned());
                i += 3;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The rule families of SPEC.md.
const FAMILIES: [&str; 16] = [
    "CAL", "VAL", "LOGIN", "FL", "GR", "SE", "LOST", "RS", "RI", "FEE", "HELP", "MAIL", "SEC",
    "UI", "OPS", "WEB",
];

/// The tests cell of a rule no test cites yet: `pending: #N`, naming the issue that will cite it.
/// Returns the issue number, or `None` when the cell is not a pending mark.
fn pending_issue(cell: &str) -> Option<u32> {
    let number = cell.trim().strip_prefix("pending: #")?.strip_suffix(" |")?;
    number.parse().ok().filter(|n| *n > 0)
}

/// Rule ids as written in a test's name, of the known families only: `rs_03` → `RS-03`.
fn ids_in_name(name: &str) -> Vec<String> {
    let parts: Vec<String> = name.split('_').map(str::to_ascii_uppercase).collect();
    parts
        .windows(2)
        .filter(|w| {
            FAMILIES.contains(&w[0].as_str())
                && w[1].len() == 2
                && w[1].bytes().all(|b| b.is_ascii_digit())
        })
        .map(|w| format!("{}-{}", w[0], w[1]))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every test function (a `fn` right after a `#[test]` attribute, its doc comments and attributes
/// around it) with the rule ids its name and doc comments cite.
fn tests_citing() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let mut cited: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        let mut preamble: Vec<&str> = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("///") || t.starts_with("#[") || t.starts_with("//") {
                preamble.push(t);
                continue;
            }
            let is_test = preamble.iter().any(|l| l.starts_with("#[test]"));
            let signature = t.strip_prefix("fn ").or_else(|| t.strip_prefix("pub fn "));
            if let (true, Some(rest)) = (is_test, signature) {
                let name = rest.split(['(', '<']).next().unwrap_or("").to_owned();
                let mut ids: Vec<String> = preamble
                    .iter()
                    .filter(|l| l.starts_with("//"))
                    .flat_map(|l| ids_in(l))
                    .collect();
                ids.extend(ids_in_name(&name));
                for id in ids {
                    cited
                        .entry(id)
                        .or_default()
                        .insert(format!("`{rel}::{name}`"));
                }
            }
            preamble.clear();
        }
    }
    cited
}

fn spec_ids() -> Option<BTreeSet<String>> {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/SPEC.md");
    let text = fs::read_to_string(spec).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.strip_prefix("- "))
            .filter_map(|l| ids_in(l.split(' ').next().unwrap_or("")).into_iter().next())
            .collect(),
    )
}

/// Rule ids → tests: the map of docs/rules.md is complete and true.
#[test]
fn every_rule_is_cited_and_every_citation_known() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    let doc = fs::read_to_string(&path).unwrap();
    let cited = tests_citing();
    let mut known = BTreeSet::new();
    let mut rewritten = Vec::new();
    let mut uncited = Vec::new();
    let mut pending_but_cited = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        match cells.first().and_then(|c| c.strip_prefix("| ")) {
            Some(id) if !ids_in(id).is_empty() && cells.len() >= 4 => {
                known.insert(id.to_owned());
                let tests = cited
                    .get(id)
                    .map(|t| t.iter().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                let pending = pending_issue(cells[cells.len() - 1]);
                let meaning = cells[1..cells.len() - 1].join(" | ");
                match (pending, tests.is_empty()) {
                    (Some(issue), true) => {
                        rewritten.push(format!("| {id} | {meaning} | pending: #{issue} |"));
                        continue;
                    }
                    (Some(issue), false) => pending_but_cited.push(format!("{id} (#{issue})")),
                    (None, true) => uncited.push(id.to_owned()),
                    (None, false) => {}
                }
                rewritten.push(format!("| {id} | {meaning} | {tests} |"));
            }
            _ => rewritten.push(line.to_owned()),
        }
    }
    let rewritten = rewritten.join("\n") + "\n";
    let updating = std::env::var_os("UPDATE_RULES").is_some();
    if updating {
        fs::write(&path, &rewritten).unwrap();
    }
    let unknown: Vec<&String> = cited.keys().filter(|id| !known.contains(*id)).collect();
    assert!(
        unknown.is_empty(),
        "tests cite ids docs/rules.md does not know: {unknown:?}"
    );
    assert!(
        uncited.is_empty(),
        "rules no test cites and docs/rules.md does not mark `pending: #N`: {uncited:?}"
    );
    assert!(
        updating || pending_but_cited.is_empty(),
        "rules marked pending that tests now cite (run `UPDATE_RULES=1 cargo test --test rules`): \
         {pending_but_cited:?}"
    );
    if let Some(spec) = spec_ids() {
        assert_eq!(
            known, spec,
            "docs/rules.md and SPEC.md list different rule ids"
        );
    }
    assert!(
        updating || doc == rewritten,
        "docs/rules.md's tests column is stale: run `UPDATE_RULES=1 cargo test --test rules`"
    );
}

/// The id scanner itself: finds ids in prose and in snake_case test names, nothing else.
#[test]
fn scanner_finds_ids() {
    assert_eq!(ids_in("/// RS-03, SEC-04: x"), ["RS-03", "SEC-04"]);
    assert_eq!(ids_in("UTC+09:00 A-1 ABCDEF-01 X-01"), Vec::<String>::new());
    assert_eq!(ids_in_name("rs_03_sec_04_paths"), ["RS-03", "SEC-04"]);
    assert_eq!(
        ids_in_name("val_01_val_03_round_trip"),
        ["VAL-01", "VAL-03"]
    );
    assert_eq!(ids_in_name("val_02_all_47_prefectures"), ["VAL-02"]);
    assert_eq!(
        ids_in_name("ui_03_ops_04_web_01"),
        ["UI-03", "OPS-04", "WEB-01"]
    );
}

/// The pending mark: `pending: #N` with a real issue number, nothing else.
#[test]
fn pending_mark_names_an_issue() {
    assert_eq!(pending_issue("pending: #14 |"), Some(14));
    assert_eq!(pending_issue(" pending: #7 |"), Some(7));
    assert_eq!(pending_issue("pending: #0 |"), None);
    assert_eq!(pending_issue("pending |"), None);
    assert_eq!(pending_issue("pending: #x |"), None);
    assert_eq!(pending_issue("`tests/a.rs::rs_03` |"), None);
}

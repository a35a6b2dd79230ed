//! The flow pages of `docs/flows/` against the code: each page's state diagrams draw exactly the
//! variants of the persisted enums they name, each page names every rule of its families as
//! `docs/rules.md` lists them, and the index links every page.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Each page and the persisted enums its `stateDiagram-v2` blocks draw, with their source files.
/// A diagram says which one it draws on a line `%% enum <Name> in <file>`.
const PAGES: &[(&str, &[(&str, &str)])] = &[
    ("login.md", &[("Login", "src/login.rs")]),
    ("first_login.md", &[("FirstLogin", "src/first_login.rs")]),
    ("grace.md", &[("Grace", "src/grace.rs")]),
    (
        "security_emails.md",
        &[("SecurityEmailSetting", "src/security_emails.rs")],
    ),
    ("lost_and_reset.md", &[("Reset", "src/reset.rs")]),
    (
        "reissue.md",
        &[
            ("Reissue", "src/reissue.rs"),
            ("ApplicationStatus", "src/reissue.rs"),
        ],
    ),
    (
        "certificate.md",
        &[("CertificateApplication", "src/certificate.rs")],
    ),
];

/// Each rule family of `docs/rules.md` and the page that must name every one of its rules.
const FAMILIES: &[(&str, &str)] = &[
    ("LOGIN", "login.md"),
    ("FL", "first_login.md"),
    ("GR", "grace.md"),
    ("SE", "security_emails.md"),
    ("LOST", "lost_and_reset.md"),
    ("RS", "lost_and_reset.md"),
    ("RI", "reissue.md"),
    ("FEE", "certificate.md"),
];

/// A file of the crate, by its path from the crate root.
fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The ```` ```mermaid ```` blocks of a page that are state diagrams, each as its trimmed lines.
fn state_diagrams(page: &str) -> Vec<Vec<&str>> {
    let mut diagrams = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in page.lines().map(str::trim) {
        match block.take() {
            None => {
                if line == "```mermaid" {
                    block = Some(Vec::new());
                }
            }
            Some(lines) if line == "```" => {
                if lines.iter().find(|l| !l.is_empty()) == Some(&"stateDiagram-v2") {
                    diagrams.push(lines);
                }
            }
            Some(mut lines) => {
                lines.push(line);
                block = Some(lines);
            }
        }
    }
    assert!(block.is_none(), "a ```mermaid block is not closed");
    diagrams
}

/// The enum a diagram draws and its source file, from its `%% enum <Name> in <file>` line.
fn drawn_enum(diagram: &[&str]) -> (String, String) {
    diagram
        .iter()
        .find_map(|line| {
            let (name, file) = line.strip_prefix("%% enum ")?.split_once(" in ")?;
            Some((name.trim().to_owned(), file.trim().to_owned()))
        })
        .unwrap_or_else(|| panic!("a state diagram without `%% enum <Name> in <file>`"))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The states a diagram names: both ends of each transition `A --> B : label` and each described
/// state `A : description`, without `[*]`. Comments (`%%`) and notes are skipped; any other line
/// must name its states the same way, or the diagram cannot be read.
fn diagram_states(diagram: &[&str]) -> BTreeSet<String> {
    let mut states = BTreeSet::new();
    let mut in_note = false;
    for &line in diagram {
        if in_note {
            in_note = line != "end note";
            continue;
        }
        if line.is_empty() || line.starts_with("%%") || line == "stateDiagram-v2" {
            continue;
        }
        if line.starts_with("note ") {
            in_note = !line.contains(':');
            continue;
        }
        let head = line.split_once(':').map_or(line, |(head, _)| head);
        for name in head.split("-->").map(str::trim) {
            if name == "[*]" {
                continue;
            }
            assert!(
                is_identifier(name),
                "cannot read a state name in the diagram line {line:?}"
            );
            states.insert(name.to_owned());
        }
    }
    states
}

/// The variants of `pub enum <name> {` in a source file: the identifier that starts each line at
/// the enum's top level (`Variant(State),`, `Variant {`, `Variant,`), comments and attributes
/// skipped, up to the enum's closing `}`.
fn enum_variants(source: &str, name: &str) -> BTreeSet<String> {
    let header = format!("pub enum {name} {{");
    let mut lines = source.lines().skip_while(|l| l.trim() != header);
    assert!(lines.next().is_some(), "no `{header}` in the source");
    let mut variants = BTreeSet::new();
    let mut depth = 0usize;
    for line in lines.map(str::trim) {
        if line.starts_with("//") || line.starts_with("#[") {
            continue;
        }
        if depth == 0 {
            if line.starts_with('}') {
                return variants;
            }
            let variant: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !variant.is_empty() {
                variants.insert(variant);
            }
        }
        for c in line.chars() {
            match c {
                '{' | '(' => depth += 1,
                '}' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    panic!("`{header}` is never closed");
}

/// Whether `text` names `id` as a whole word (`RS-01`, not `RS-010`).
fn names(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + id.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// The rule ids of `family` listed in the rows of `docs/rules.md` (`| RS-01 | … |`).
fn rule_ids(rules: &str, family: &str) -> Vec<String> {
    let prefix = format!("{family}-");
    rules
        .lines()
        // A rule still pending (`pending: #N`: its issue is open) is explained by that issue.
        .filter(|line| !line.contains(" | pending: #"))
        .filter_map(|line| line.strip_prefix("| ")?.split(" | ").next())
        .filter(|id| {
            id.strip_prefix(&prefix)
                .is_some_and(|n| n.len() == 2 && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
        .collect()
}

/// Every state diagram of a flow page draws exactly the variants of the persisted enum it names,
/// and every page draws each of its enums once: adding a state to a flow's enum, or removing one,
/// fails here until the page's diagram follows.
#[test]
fn diagrams_draw_exactly_the_persisted_states() {
    for (page, enums) in PAGES {
        let text = read(&format!("docs/flows/{page}"));
        let diagrams = state_diagrams(&text);
        let drawn: Vec<(String, String)> = diagrams.iter().map(|d| drawn_enum(d)).collect();
        let expected: Vec<(String, String)> = enums
            .iter()
            .map(|(name, file)| ((*name).to_owned(), (*file).to_owned()))
            .collect();
        assert_eq!(
            drawn, expected,
            "{page}: its state diagrams must draw these enums, in this order"
        );
        for (diagram, (name, file)) in diagrams.iter().zip(&expected) {
            let in_code = enum_variants(&read(file), name);
            assert!(!in_code.is_empty(), "{file}: `{name}` has no variants");
            let in_diagram = diagram_states(diagram);
            assert_eq!(
                in_diagram,
                in_code,
                "{page}: the diagram of `{name}` and its variants in {file} differ\n\
                 only in the diagram: {:?}\nonly in the code: {:?}",
                in_diagram.difference(&in_code).collect::<Vec<_>>(),
                in_code.difference(&in_diagram).collect::<Vec<_>>(),
            );
        }
    }
}

/// Every flow page names every rule of its families, as the rows of `docs/rules.md` list them
/// (but for rules still pending, which their issue explains when it lands), so
/// a rule added to a family fails here until its page explains it.
#[test]
fn pages_name_every_rule_of_their_families() {
    let rules = read("docs/rules.md");
    for (family, page) in FAMILIES {
        let ids = rule_ids(&rules, family);
        assert!(!ids.is_empty(), "docs/rules.md lists no rule of {family}");
        let text = read(&format!("docs/flows/{page}"));
        let missing: Vec<&String> = ids.iter().filter(|id| !names(&text, id)).collect();
        assert!(missing.is_empty(), "{page} does not name {missing:?}");
    }
}

/// The index links every flow page, and every page in `docs/flows/` is one this test checks.
#[test]
fn index_links_every_page() {
    let index = read("docs/flows/README.md");
    let checked: BTreeSet<&str> = PAGES.iter().map(|(page, _)| *page).collect();
    for page in &checked {
        assert!(
            index.contains(&format!("]({page})")),
            "docs/flows/README.md does not link {page}"
        );
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/flows");
    for entry in fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && name != "README.md" {
            assert!(
                checked.contains(name.as_str()),
                "docs/flows/{name} is not a page this test checks"
            );
        }
    }
}

/// The readers above, on small inputs: a diagram's states, an enum's variants (tuple, struct and
/// unit variants, with doc comments and attributes), and whole-word rule ids.
#[test]
fn the_readers_read_what_they_claim() {
    let diagram = [
        "stateDiagram-v2",
        "%% enum Flow in src/flow.rs",
        "A : 【画面】",
        "[*] --> A : start",
        "A --> B : 次へ (Next) - with: colons",
        "note right of B",
        "    C --> D : not a state",
        "end note",
        "note left of A : nor E --> F",
        "B --> [*]",
    ];
    assert_eq!(
        drawn_enum(&diagram),
        ("Flow".to_owned(), "src/flow.rs".to_owned())
    );
    let states: Vec<String> = diagram_states(&diagram).into_iter().collect();
    assert_eq!(states, ["A", "B"]);

    let source = "pub enum Other {\n    X,\n}\n\
                  /// Doc.\n#[derive(Debug)]\npub enum Flow {\n    /// 【A】 (see {x}).\n    A(A),\n\
                  #[default]\n    B {\n        at: (u8, u8),\n    },\n    C,\n}\n";
    let variants: Vec<String> = enum_variants(source, "Flow").into_iter().collect();
    assert_eq!(variants, ["A", "B", "C"]);

    assert!(names("see [RS-01](../rules.md).", "RS-01"));
    assert!(!names("RS-010 and XRS-01", "RS-01"));
    let rows =
        "| RS-01 | S | x | t |\n| RS-02 | D | y | t |\n| RI-01 | S | z | t |\n- RS-03 prose\n";
    assert_eq!(rule_ids(rows, "RS"), ["RS-01", "RS-02"]);
}

//! The layers of `src/` (docs/architecture.md): no two modules import each other, directly or
//! through others. A module is a top-level file or folder of `src/` (`portal/` and its files are
//! one module); an import is any `crate::module` path in code, outside comments and test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Module → the modules its code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    collect(&src, &mut files);
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let deps = graph.entry(module.clone()).or_default();
        for name in named_modules(&fs::read_to_string(&file).unwrap()) {
            if name != module {
                deps.insert(name);
            }
        }
    }
    graph
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::x` modules named by the code of one file: comments and `#[cfg(test)]` modules
/// (to the end of the file, where this crate keeps them) are left out.
fn named_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let tail = &rest[at + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
            rest = tail;
        }
        // `use crate::{a, b::c}` lists.
        if let Some(list) = line.trim().strip_prefix("use crate::{") {
            for part in list.split([',', '{', '}']) {
                let head = part.trim().split("::").next().unwrap_or("");
                if !head.is_empty() && head.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    names.insert(head.to_owned());
                }
            }
        }
    }
    names
}

/// A cycle in the graph, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// No module of `src/` imports another that imports it back, directly or through others.
#[test]
fn no_module_cycle() {
    let graph = imports();
    assert!(graph.contains_key("portal") && graph.contains_key("flow"));
    assert_eq!(cycle(&graph), None, "modules import each other: {graph:#?}");
}

/// The layers: the flows never name the driver or the host; values name no flow.
#[test]
fn flows_name_neither_driver_nor_host() {
    let graph = imports();
    let flows = [
        "flow",
        "challenge",
        "registration",
        "login",
        "first_login",
        "grace",
        "security_emails",
        "lost",
        "reset",
        "reissue",
        "certificate",
    ];
    for flow in flows {
        for above in ["portal", "memory", "testkit"] {
            assert!(
                !graph.get(flow).is_some_and(|deps| deps.contains(above)),
                "{flow} names {above}"
            );
        }
    }
    for value in [
        "values", "calendar", "policy", "secret", "account", "screen", "store",
    ] {
        for flow in flows {
            assert!(
                !graph.get(value).is_some_and(|deps| deps.contains(flow)),
                "{value} names {flow}"
            );
        }
    }
}

/// The checker itself finds a cycle and reads imports as written.
#[test]
fn checker_finds_cycles_and_imports() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycle(&graph).map(|c| c.len()), Some(4));
    let text = "use crate::{flow::Cx, screen};\n/// crate::portal in a doc\nfn f() { crate::store::Key::x(); }\n#[cfg(test)]\nmod tests { use crate::memory; }";
    assert_eq!(
        named_modules(text),
        BTreeSet::from(["flow".to_owned(), "screen".to_owned(), "store".to_owned()])
    );
}

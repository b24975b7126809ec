//! The crate's layers, checked: every top-level module is in exactly one
//! layer, and uses (through `crate::` paths outside comments and tests)
//! only modules of its own layer or below, with no cycle among them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first (as lib.rs declares them).
const LAYERS: &[&[&str]] = &[
    &["config", "error", "time"],
    &["plan"],
    &["dataset", "segments", "cluster", "session"],
    &["scan"],
    &["analytics"],
    &["compile", "expand", "query"],
    &["features", "materialize", "report"],
    &["engine"],
    &["discover"],
];

/// Top-level module -> the top-level modules its code names.
fn uses(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = reexports(&lib);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "lib" || top == "layers" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let names = graph.entry(top.clone()).or_default();
        for name in crate_paths(&code) {
            let module = reexports.get(&name).cloned().unwrap_or(name);
            if module != top {
                names.insert(module);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The source without comments and without its unit tests.
fn code_of(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every `crate::` path, `crate::{a, b::c}` included.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(first_segment(&item));
        } else {
            out.push(first_segment(rest));
        }
    }
    out.retain(|s| !s.is_empty() && s != "self");
    out
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Names lib.rs re-exports -> the top-level module they come from.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = first_segment(path);
        let names = match path.find('{') {
            Some(open) => path[open + 1..].trim_end_matches('}').to_string(),
            None => path.rsplit("::").next().unwrap_or("").to_string(),
        };
        for name in names.split(',') {
            map.insert(first_segment(name), module.clone());
        }
    }
    map
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn no_module_uses_one_above_it() {
    let graph = uses(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut wrong = Vec::new();
    for (module, names) in &graph {
        let Some(own) = layer_of(module) else {
            wrong.push(format!("module {module} is in no layer of LAYERS"));
            continue;
        };
        for name in names {
            match layer_of(name) {
                Some(l) if l <= own => {}
                Some(l) => wrong.push(format!("{module} (layer {own}) uses {name} (layer {l})")),
                None => wrong.push(format!("{module} uses {name}, which is in no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn modules_do_not_use_each_other_in_a_circle() {
    let graph = uses(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = stack.pop() {
            assert!(m != start, "{start} reaches itself through {seen:?}");
            if seen.insert(m.clone()) {
                stack.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
}

#[test]
fn the_checker_sees_uses() {
    let code = code_of(
        "use crate::{Error, plan::{expr, months}};\n// crate::engine\nx(crate::scan::Scan)",
    );
    assert_eq!(crate_paths(&code), ["Error", "plan", "scan"]);
    let map = reexports("pub use engine::Engine;\npub use query::{Explain, MembersRequest};");
    assert_eq!(map["MembersRequest"], "query");
    assert_eq!(map["Engine"], "engine");
}

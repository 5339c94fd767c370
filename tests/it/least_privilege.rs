//! Keeps `infra/operations.toml` honest: the AWS operations each adapter in `shared/aws` calls,
//! and the adapters each function links, read from the source. `infra/iam_policies.py` then
//! checks that every function's role grants exactly what that table says it calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Operations {
    adapters: BTreeMap<String, Adapter>,
    functions: BTreeMap<String, Function>,
    /// What the Lambda service and the runtime do with every function's role.
    runtime: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Adapter {
    sources: Vec<PathBuf>,
    operations: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct Function {
    adapters: BTreeSet<String>,
    #[serde(default)]
    leaves_out: BTreeMap<String, String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn table() -> Operations {
    let path = root().join("infra/operations.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The source without `//` comments (doc comments name types the code may not use) and without
/// its `#[cfg(test)]` module (the tests call the SDK to set up and to look).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut code = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let line = match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// `get_object` → `GetObject`; `list_objects_v2` → `ListObjectsV2`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Each SDK request in `code`: the operation (`client.op(`, `client().op(`, across lines) and the
/// type whose top-level `impl` block it is in. Every `.send()` (a paginator's too),
/// `.send_with(` and `.presigned(` must close a request found so, so that a call made some other way fails here
/// rather than going unlisted.
fn requests(code: &str, path: &Path) -> Vec<(String, String)> {
    let mut impls: Vec<(usize, String)> = Vec::new();
    let mut offset = 0;
    for line in code.lines() {
        if let Some(rest) = line.strip_prefix("impl") {
            // `impl<T> Trait for Type<T> {` → `Type`: skip the generics, then the trait.
            let mut rest = rest.trim_start();
            if rest.starts_with('<') {
                let mut depth = 0;
                let close = rest
                    .char_indices()
                    .find(|(_, c)| {
                        depth += match c {
                            '<' => 1,
                            '>' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map_or(rest.len(), |(at, _)| at + 1);
                rest = rest[close..].trim_start();
            }
            let head = rest.split('{').next().unwrap_or(rest);
            let head = head.rsplit(" for ").next().unwrap_or(head).trim_start();
            let name: String = head.chars().take_while(|c| is_ident(*c)).collect();
            impls.push((offset, name));
        }
        offset += line.len() + 1;
    }
    let impl_at = |at: usize| {
        impls
            .iter()
            .rev()
            .find(|(start, _)| *start <= at)
            .map(|(_, name)| name.clone())
            .unwrap_or_default()
    };

    let mut found = Vec::new();
    let mut starts = Vec::new();
    for (at, _) in code.match_indices("client") {
        let before = code[..at].chars().next_back().unwrap_or(' ');
        if is_ident(before) {
            continue;
        }
        let rest = &code[at + "client".len()..];
        let rest = rest.strip_prefix("()").unwrap_or(rest).trim_start();
        let Some(rest) = rest.strip_prefix('.') else {
            continue;
        };
        let rest = rest.trim_start();
        let op: String = rest.chars().take_while(|c| is_ident(*c)).collect();
        if op.is_empty() || !rest[op.len()..].starts_with('(') {
            continue;
        }
        found.push((impl_at(at), pascal(&op)));
        starts.push(at);
    }

    let mut ends: Vec<usize> = [".send()", ".send_with(", ".presigned("]
        .iter()
        .flat_map(|end| code.match_indices(end).map(|(at, _)| at))
        .collect();
    ends.sort_unstable();
    let mut previous_end = None;
    for end in ends {
        let opened = starts
            .iter()
            .any(|s| *s < end && previous_end.is_none_or(|p| *s > p));
        let line = code[..end].lines().count();
        assert!(
            opened,
            "{}:{line}: a request that is not `client.operation(...)`: this test cannot see \
             which operation it is; call it through the client field",
            path.display()
        );
        previous_end = Some(end);
    }
    found
}

#[test]
fn every_operation_the_adapters_call_is_in_the_table_and_every_listed_one_is_called() {
    let table = table();
    let mut sources_seen = BTreeSet::new();
    for (name, adapter) in &table.adapters {
        let mut called = BTreeSet::new();
        for source in &adapter.sources {
            sources_seen.insert(source.clone());
            let shared = table
                .adapters
                .values()
                .filter(|a| a.sources.contains(source))
                .count()
                > 1;
            let path = root().join(source);
            for (owner, op) in requests(&code_of(&path), &path) {
                // In a file two adapters share, every call must sit in one of their `impl`s.
                assert!(
                    !shared || table.adapters.contains_key(&owner),
                    "{}: {op} is called outside the impl of any adapter that lists the file \
                     (in {owner:?}), so this test cannot say whose it is",
                    source.display()
                );
                if !shared || owner == *name {
                    called.insert(op);
                }
            }
        }
        let listed: BTreeSet<String> = adapter.operations.keys().cloned().collect();
        let unlisted: Vec<_> = called.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&called).collect();
        assert!(
            unlisted.is_empty() && stale.is_empty(),
            "infra/operations.toml [adapters.{name}]: called but not listed {unlisted:?} (add \
             them with their IAM actions, and grant them in template.yaml to the functions that \
             link {name}); listed but no longer called {stale:?}"
        );
    }

    // No AWS call outside the files the table names.
    let mut stack = vec![root().join("shared/aws/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(root()).unwrap().to_owned();
            if sources_seen.contains(&relative) {
                continue;
            }
            let calls = requests(&code_of(&path), &path);
            assert!(
                calls.is_empty(),
                "{} calls {calls:?}, but no adapter in infra/operations.toml lists the file",
                relative.display()
            );
        }
    }
}

/// The in-repo crates `manifest` depends on (not dev-dependencies), by directory.
fn repo_dependencies(manifest: &Path, workspace: &toml::Table) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    let dir = manifest.parent().unwrap();
    let mut found = Vec::new();
    let Some(deps) = parsed.get("dependencies").and_then(|d| d.as_table()) else {
        return found;
    };
    for (name, spec) in deps {
        let path = match spec.get("path").and_then(|p| p.as_str()) {
            Some(path) => dir.join(path),
            None if spec.get("workspace").and_then(|w| w.as_bool()) == Some(true) => {
                match workspace
                    .get(name)
                    .and_then(|d| d.get("path"))
                    .and_then(|p| p.as_str())
                {
                    Some(path) => root().join(path),
                    None => continue,
                }
            }
            None => continue,
        };
        found.push(path);
    }
    found
}

/// The adapters a function's code names: in its own source and in the source of the in-repo
/// crates it depends on that depend on `shared/aws` themselves (the lambda crate builds the
/// common ports; the monitor starts runs through the tune function's crate).
fn adapters_linked(function: &str, adapters: &BTreeSet<String>) -> BTreeSet<String> {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let workspace = manifest["workspace"]["dependencies"].as_table().unwrap();
    let aws = std::fs::canonicalize(root().join("shared/aws")).unwrap();

    let mut crates = vec![root().join("functions").join(function)];
    let mut seen = BTreeSet::new();
    let mut linked = BTreeSet::new();
    while let Some(dir) = crates.pop() {
        let dir = std::fs::canonicalize(&dir).unwrap();
        if dir == aws || !seen.insert(dir.clone()) {
            continue;
        }
        let dependencies = repo_dependencies(&dir.join("Cargo.toml"), workspace);
        let depends_on_aws = dependencies
            .iter()
            .any(|d| std::fs::canonicalize(d).ok().as_ref() == Some(&aws));
        if !depends_on_aws {
            continue;
        }
        crates.extend(dependencies);
        let mut files = vec![dir.join("src")];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let code = code_of(&path);
            // The adapters' SDK clients are theirs: a call through `.client()` here would be
            // an operation no adapter's table lists.
            assert!(
                !code.contains(".client()"),
                "{}: calls an AWS client directly; go through an adapter in shared/aws",
                path.display()
            );
            for adapter in adapters {
                let named = code.match_indices(adapter.as_str()).any(|(at, _)| {
                    let before = code[..at].chars().next_back().unwrap_or(' ');
                    let after = code[at + adapter.len()..].chars().next().unwrap_or(' ');
                    !is_ident(before) && !is_ident(after)
                });
                if named {
                    linked.insert(adapter.clone());
                }
            }
        }
    }
    linked
}

#[test]
fn every_function_lists_the_adapters_it_links_and_leaves_out_only_their_actions() {
    let table = table();
    let adapters: BTreeSet<String> = table.adapters.keys().cloned().collect();
    let functions: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = table.functions.keys().cloned().collect();
    assert_eq!(
        listed, functions,
        "infra/operations.toml lists other functions than functions/ holds"
    );

    for (name, function) in &table.functions {
        let linked = adapters_linked(name, &adapters);
        assert_eq!(
            function.adapters, linked,
            "infra/operations.toml [functions.{name}] adapters: the code links {linked:?}"
        );
        // What its adapters call, and what every function's runtime is given.
        let actions: BTreeSet<&String> = function
            .adapters
            .iter()
            .flat_map(|a| table.adapters[a].operations.values().flatten())
            .chain(table.runtime.keys())
            .collect();
        for left in function.leaves_out.keys() {
            assert!(
                actions.contains(left),
                "infra/operations.toml [functions.{name}] leaves out {left}, which none of its \
                 adapters or the shared runtime needs: remove it"
            );
        }
    }
}

#[test]
fn the_request_scanner_sees_calls_across_lines_and_refuses_ones_it_cannot_name() {
    let path = Path::new("example.rs");
    let code = "impl A {\n    async fn f(&self) {\n        self\n            .client\n            .get_object()\n            .send()\n            .await;\n        self.client().list_objects_v2().into_paginator().send();\n    }\n}\nimpl Port for B {\n    fn g(&self) { self.client.put_events().send(); }\n}\n";
    assert_eq!(
        requests(code, path),
        vec![
            ("A".to_owned(), "GetObject".to_owned()),
            ("A".to_owned(), "ListObjectsV2".to_owned()),
            ("B".to_owned(), "PutEvents".to_owned()),
        ]
    );
    let hidden = "impl A {\n    fn f(&self) { let c = &self.s3; c.get_object().send(); }\n}\n";
    let refused = std::panic::catch_unwind(|| requests(hidden, path));
    assert!(
        refused.is_err(),
        "a request not made on `client` must fail the scan"
    );
}

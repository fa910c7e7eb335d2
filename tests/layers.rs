//! The module layering of ARCHITECTURE.md, enforced: a module under `src/` may
//! refer only to modules of a lower layer (or its own), so there is no import
//! cycle and no upward import. `lib.rs` lists the modules in this order.

use std::collections::BTreeSet;
use std::path::Path;

/// Layers from the ground up; modules on one line are peers and may not use each other.
const LAYERS: &[&[&str]] = &[
    &["protocol"],
    &["auth", "matcher"],
    &["config"],
    &["store"],
    &["hints"],
    &["access"],
    &["hub"],
    &["broker"],
    &["feed"],
    &["state"],
    &["realtime"],
    &["http"],
    &["accounts"],
    &["openapi", "sse", "ws"],
    &["app", "healthcheck"],
    &["cli"],
];

fn layer(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&m))
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_upward_or_sideways_imports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut problems = BTreeSet::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src").to_string_lossy().to_string();
        let module = rel.split(['/', '.']).next().unwrap_or_default().to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer(&module) else {
            problems.insert(format!(
                "{rel}: module {module:?} is not in LAYERS (add it to the test and ARCHITECTURE.md)"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&f).expect("read");
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == module || name.is_empty() {
                continue;
            }
            match layer(&name) {
                Some(l) if l < own => {}
                Some(_) => {
                    problems.insert(format!("{rel}: {module} (layer {own}) uses {name} (not below it)"));
                }
                None => {
                    problems.insert(format!("{rel}: uses unknown module {name:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}

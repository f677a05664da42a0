//! The crate layering of ARCHITECTURE.md, checked with `cargo metadata` (as DataFusion's
//! `dev/depcheck` does): the data plane never depends on the control plane (`stc-server`),
//! and the runtime knows nothing of SQL or connectors.

use std::collections::HashMap;
use std::process::Command;

/// Workspace crates each crate may depend on (besides external crates).
const ALLOWED: &[(&str, &[&str])] = &[
    ("stc-common", &[]),
    ("stc-functions", &[]),
    ("stc-runtime", &["stc-common"]),
    ("stc-connectors", &["stc-common", "stc-runtime"]),
    (
        "stc-sql",
        &[
            "stc-common",
            "stc-functions",
            "stc-runtime",
            "stc-connectors",
        ],
    ),
    // The control plane: it compiles SQL to validate jobs at submit, but never runs a job
    // (workers do) and no data-plane crate may depend on it.
    // The control plane reads checkpoint metadata (start points) through the runtime.
    ("stc-server", &["stc-common", "stc-runtime", "stc-sql"]),
    // The binary sits on top of everything.
    ("stc-cli", &["*"]),
];

#[test]
fn crate_layering_holds() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: Vec<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let allowed: HashMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut violations = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap();
        let Some(rules) = allowed.get(name) else {
            violations.push(format!(
                "crate {name} has no layering rule: add it to ALLOWED and ARCHITECTURE.md"
            ));
            continue;
        };
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            if d["kind"].as_str() == Some("dev") || !members.iter().any(|m| m == dep) {
                continue;
            }
            if !rules.contains(&"*") && !rules.contains(&dep) {
                violations.push(format!("{name} must not depend on {dep}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

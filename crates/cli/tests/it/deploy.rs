//! The container and scheduler files (`Dockerfile`, `deploy/`) run `backtide` with flags
//! that exist: each command they hold is handed to the binary with `--help` appended, which
//! clap answers with the help text only when every flag before it is known. (No Docker
//! engine, cluster or Slurm runs on the build machines; the YAML syntax is checked by
//! python/tests/test_deploy.py.)

use crate::golden::repo;

/// The `backtide` argument lists in a file: YAML `args:` lists, JSON arrays after
/// `CMD`/`command:`, and shell lines (`exec backtide …`, with `\` continuations).
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let unquote = |s: &str| s.trim().trim_matches('"').trim_matches('\'').to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut k = 0;
    while k < lines.len() {
        let line = lines[k];
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            k += 1;
            continue;
        }
        if trimmed == "args:" {
            // A YAML list: `- item` lines indented deeper than `args:`.
            let indent = line.len() - trimmed.len();
            let mut items = Vec::new();
            k += 1;
            while k < lines.len() {
                let l = lines[k];
                let t = l.trim_start();
                if l.len() - t.len() <= indent || !t.starts_with("- ") {
                    break;
                }
                items.push(unquote(&t[2..]));
                k += 1;
            }
            match items.as_slice() {
                [one] if one.contains("backtide ") => out.push(shell_words(one)),
                _ if !items.is_empty() => out.push(items),
                _ => {}
            }
            continue;
        }
        if let Some(i) = trimmed.find('[')
            && (line.starts_with("CMD") || trimmed.starts_with("command:"))
        {
            let list: Vec<String> = serde_json::from_str(&trimmed[i..]).unwrap();
            // A shell as the command (its script is in `args`) is not backtide's.
            if !matches!(list.first().map(String::as_str), Some("sh" | "bash")) {
                out.push(list);
            }
        } else if trimmed.starts_with("exec backtide ") {
            let mut full = trimmed.to_string();
            while full.ends_with('\\') {
                full.pop();
                k += 1;
                full.push(' ');
                full.push_str(lines[k].trim());
            }
            out.push(shell_words(&full));
        }
        k += 1;
    }
    out
}

/// `exec backtide sweep --x "a b" …` → `["sweep", "--x", "a b", …]` (quotes as the shell
/// reads them; variables kept as text).
fn shell_words(line: &str) -> Vec<String> {
    let rest = &line[line.find("backtide ").unwrap() + "backtide ".len()..];
    let (mut words, mut cur, mut quote) = (Vec::new(), String::new(), None::<char>);
    for c in rest.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, ' ') => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[test]
fn container_and_scheduler_files_use_flags_that_exist() {
    let files = [
        "Dockerfile",
        "deploy/compose.yaml",
        "deploy/kubernetes/api.yaml",
        "deploy/kubernetes/worker.yaml",
        "deploy/kubernetes/sweep-job.yaml",
        "deploy/kubernetes/sweep-merge-job.yaml",
        "deploy/slurm/sweep.sbatch",
    ];
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(repo(f)).unwrap();
        let cmds = commands(&text);
        assert!(!cmds.is_empty(), "{f}: no backtide command found");
        for args in cmds {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_backtide"))
                .args(&args)
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{f}: backtide {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    // Dockerfile CMD, compose's API and worker, Kubernetes' API and worker, shard, merge,
    // Slurm array.
    assert_eq!(checked, 8);
}

#[test]
fn a_misspelt_flag_is_caught() {
    let cmds =
        commands("        args:\n          - sweep\n          - --shards\n          - auto/8\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backtide"))
        .args(&cmds[0])
        .arg("--help")
        .output()
        .unwrap();
    assert!(!out.status.success());
}

//! The device-authoring pages' walkthroughs, run as written so they cannot
//! rot. A ```console block right after a `<!-- doc-test: NAME ... -->` line
//! is a test: its `$ ` commands run in order in one bash, in a fresh
//! temporary directory, with the `wemu` under test first on the PATH. Each
//! other line is expected in the output of the command above it: `…` stands
//! for anything (a line of just `…` for any number of lines). A command
//! that exits non-zero fails the test unless the next command is
//! `echo $?`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{node_missing, root, target_dir};

#[derive(Debug, PartialEq)]
struct Step {
    command: String,
    expect: Vec<String>,
}

/// The steps of the block tagged `name` in the Markdown `page`.
fn tested_block(page: &str, name: &str) -> Vec<Step> {
    let marker = format!("<!-- doc-test: {name} ");
    let mut lines = page.lines().skip_while(|l| !l.starts_with(&marker));
    assert!(lines.next().is_some(), "no block tagged doc-test: {name}");
    assert_eq!(lines.next(), Some("```console"), "doc-test {name}: a ```console block must follow the tag");
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for line in lines.take_while(|l| *l != "```") {
        if continued {
            let last = steps.last_mut().expect("a command before a continuation");
            last.command.push_str(line.trim_end_matches('\\'));
            continued = line.ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step { command: cmd.trim_end_matches('\\').to_owned(), expect: Vec::new() });
            continued = line.ends_with('\\');
        } else if let Some(last) = steps.last_mut() {
            if !line.trim().is_empty() && line.trim() != "…" {
                last.expect.push(line.to_owned());
            }
        } else {
            panic!("doc-test {name}: output before the first command: {line:?}");
        }
    }
    steps
}

/// Does some line of `output` hold the pieces of `expected` (split at `…`)
/// in order?
fn matches(output: &str, expected: &str) -> bool {
    let pieces: Vec<&str> = expected.split('…').map(str::trim_end).filter(|p| !p.trim().is_empty()).collect();
    output.lines().any(|line| {
        let mut rest = line;
        pieces.iter().all(|p| {
            let p = p.trim_start();
            match rest.find(p) {
                Some(i) => {
                    rest = &rest[i + p.len()..];
                    true
                }
                None => false,
            }
        })
    })
}

const BEGIN: &str = "@@doc-test step";

/// Run the steps; panics naming the first step that fails.
fn run(name: &str, steps: &[Step], limit: Duration) {
    let work = tempfile::tempdir().expect("temp dir");
    let mut script = String::from("exec 2>&1\n__rc=0\n");
    for (i, s) in steps.iter().enumerate() {
        // `( exit $__rc )` hands the previous status to an `echo $?` step.
        script.push_str(&format!(
            "echo '{BEGIN} {i}'\n( exit $__rc )\n{}\n__rc=$?\necho \"{BEGIN} {i} status $__rc\"\n",
            s.command
        ));
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_wemu")).parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("WEMU_CACHE_DIR", target_dir().join("test-cache"))
        .env("WEMU_LOG", "warn")
        .env("CARGO_TERM_COLOR", "never")
        // Smaller native builds; the commands' results are the same.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    for var in [
        "WEMU_DEVICE_PATH",
        "WEMU_MACHINE_PATH",
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_MANIFEST_DIR",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().expect("spawn bash");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("doc-test {name} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();

    for (i, s) in steps.iter().enumerate() {
        let begin = format!("{BEGIN} {i}\n");
        let start = output.find(&begin).map(|p| p + begin.len());
        let end_marker = format!("{BEGIN} {i} status ");
        let (Some(start), Some(end)) = (start, output.find(&end_marker)) else {
            panic!("doc-test {name}: step {i} `{}` did not run; output:\n{output}", s.command);
        };
        let out = &output[start..end];
        let status: i32 = output[end + end_marker.len()..]
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("status");
        let checked_next = steps.get(i + 1).is_some_and(|n| n.command.trim() == "echo $?");
        assert!(status == 0 || checked_next, "doc-test {name}: `{}` exited with {status}:\n{out}", s.command);
        for e in &s.expect {
            assert!(matches(out, e), "doc-test {name}: `{}` printed no line like {e:?}:\n{out}", s.command);
        }
    }
}

fn page(name: &str) -> String {
    std::fs::read_to_string(root().join("docs").join(name)).expect("docs page")
}

#[test]
fn doc_blocks_parse_into_commands_and_expectations() {
    let text = "x\n<!-- doc-test: t -->\n```console\n$ a \\\n    --b\nout 1\n…\n$ c\n```\n$ not this\n";
    assert_eq!(
        tested_block(text, "t"),
        [
            Step { command: "a     --b".into(), expect: vec!["out 1".into()] },
            Step { command: "c".into(), expect: vec![] },
        ]
    );
    assert!(matches("ok   file   123 bytes\n", "ok   file … bytes"));
    assert!(!matches("ok   file\nbytes\n", "ok   file … bytes"), "pieces must share a line");
    assert!(matches("a b c", "b"));
}

/// docs/device-authoring-c.md, "From zero to a device in a machine".
#[test]
fn c_authoring_page_walkthrough_runs() {
    let steps = tested_block(&page("device-authoring-c.md"), "c-skeleton");
    assert!(steps.len() >= 6, "{steps:?}");
    run("c-skeleton", &steps, Duration::from_secs(900));
}

/// docs/device-authoring.md, "Quick start: a device outside the wemu tree".
#[test]
fn rust_authoring_page_walkthrough_runs() {
    let steps = tested_block(&page("device-authoring.md"), "rust-skeleton");
    assert!(steps.len() >= 7, "{steps:?}");
    run("rust-skeleton", &steps, Duration::from_secs(1800));
}

/// docs/device-authoring-js.md, "Quick start": `npm ci` from the
/// skeleton's lockfile, the unit tests under `node --test`, the
/// componentize-js build, validate, the guest. Needs Node.js (`reftool`'s rule).
#[test]
fn js_authoring_page_walkthrough_runs() {
    let steps = tested_block(&page("device-authoring-js.md"), "js-skeleton");
    assert!(steps.len() >= 8, "{steps:?}");
    if node_missing() {
        return;
    }
    run("js-skeleton", &steps, Duration::from_secs(1200));
}

//! Golden-test helpers: the recorded agent streams in shared/fixtures, fed to any `AgentStream`.

use std::path::{Path, PathBuf};

use baton_bot::drivers::{AgentEvent, AgentOutcome, AgentStream, ExitReport};

/// Expected events, exit report and outcome of one fixture, by file name.
pub type Expectation = (&'static str, Vec<AgentEvent>, ExitReport, AgentOutcome);

/// `shared/fixtures/agent-cli` in the nearest folder above the crate that has one: CI lays
/// shared/ beside the repository checkout, a worktree may sit a level deeper.
pub fn fixtures_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .map(|dir| dir.join("shared/fixtures/agent-cli"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures/agent-cli above {}", crate_dir.display()))
}

/// The fixture files whose names start with `prefix`, sorted.
pub fn fixture_names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir readable")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.starts_with(prefix) && name.ends_with(".jsonl"))
        .collect();
    names.sort();
    names
}

fn fixture(name: &str) -> String {
    let path = fixtures_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("fixture {} unreadable: {err}", path.display()))
}

/// Every line of fixture `name` fed to a new parser: the events, and the parser to finish.
pub fn parse<P: AgentStream>(name: &str) -> (Vec<AgentEvent>, P) {
    let mut parser = P::default();
    let events = fixture(name)
        .lines()
        .flat_map(|line| parser.feed(line))
        .collect();
    (events, parser)
}

/// Checks that the fixtures starting with `prefix` are exactly those `expected` covers, and that
/// each parses to its events and, finished with its exit, to its outcome.
pub fn check_fixtures<P: AgentStream>(prefix: &str, expected: Vec<Expectation>) {
    let mut covered: Vec<&str> = expected.iter().map(|(name, ..)| *name).collect();
    covered.sort();
    assert_eq!(
        fixture_names(prefix),
        covered,
        "every {prefix} fixture needs an expectation, and only those"
    );
    for (name, events, exit, outcome) in expected {
        let (got, parser) = parse::<P>(name);
        assert_eq!(got, events, "events of {name}");
        assert_eq!(parser.finish(&exit), outcome, "outcome of {name}");
    }
}

/// Feeds `parser` every `step`-th prefix (from `first` bytes on) of every line of every fixture
/// starting with `prefix`, calling `check` with the fixture, the cut and the events.
pub fn feed_cut_lines<P: AgentStream>(
    parser: &mut P,
    prefix: &str,
    first: usize,
    step: usize,
    mut check: impl FnMut(&str, usize, Vec<AgentEvent>),
) {
    for name in fixture_names(prefix) {
        for line in fixture(&name).lines() {
            for cut in (first..line.len())
                .filter(|&i| line.is_char_boundary(i))
                .step_by(step)
            {
                check(&name, cut, parser.feed(&line[..cut]));
            }
        }
    }
}

pub fn exited(code: i32) -> ExitReport {
    ExitReport {
        code: Some(code),
        ..ExitReport::default()
    }
}

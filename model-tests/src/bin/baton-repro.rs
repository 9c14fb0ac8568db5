//! baton-repro: explores race reports under a model checker and prints any
//! violation as a readable trace, a shuttle schedule and a witness.
//!
//! Exit codes: 0 every explored execution kept every invariant; 1 a
//! violation was found; 2 bad input (file, operation, schedule, option).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use baton_model_tests::explore::{self, Budget, Checker, Exploration, Impl};
use baton_model_tests::incident;
use baton_model_tests::observe::Line;
use baton_model_tests::report::{self, Report};
use baton_model_tests::trace;

const USAGE: &str =
    "usage: baton-repro REPORT... | --all | --scenarios  [--impl core|legacy|VARIANT] \
[--checker loom|pct|random|dfs|witness] [--iterations N] [--preemptions K] [--depth D] \
[--seed S] [--replay SCHEDULE]
       baton-repro --from-journal PATH [--out REPORT] [--id ID] [--invariant NAME]
         PATH: the bot's SQLite database (state dir, baton.sqlite3) or the journal as JSONL
         (baton export-journal); writes a report that replays the journal's operations";

struct Options {
    reports: Vec<PathBuf>,
    imp: Impl,
    checker: Option<Checker>,
    witness: bool,
    budget: Budget,
    replay: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        reports: Vec::new(),
        imp: Impl::Core,
        checker: None,
        witness: false,
        budget: Budget::from_env(),
        replay: None,
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name} takes a number, not {text:?}"))
        };
        match arg.as_str() {
            "--all" => options.reports.extend(list(&dir.join("reports"))?),
            "--scenarios" => options.reports.extend(list(&dir.join("scenarios"))?),
            "--impl" => {
                let name = value("--impl")?;
                options.imp =
                    Impl::parse(&name).ok_or_else(|| format!("unknown implementation {name:?}"))?;
            }
            "--checker" => {
                let name = value("--checker")?;
                if name == "witness" {
                    options.witness = true;
                } else {
                    options.checker = Some(
                        Checker::parse(&name).ok_or_else(|| format!("unknown checker {name:?}"))?,
                    );
                }
            }
            "--iterations" => {
                options.budget.iterations = number("--iterations", value("--iterations")?)? as usize
            }
            "--preemptions" => {
                options.budget.preemptions =
                    number("--preemptions", value("--preemptions")?)? as usize
            }
            "--depth" => options.budget.pct_depth = number("--depth", value("--depth")?)? as usize,
            "--seed" => options.budget.seed = number("--seed", value("--seed")?)?,
            "--replay" => options.replay = Some(value("--replay")?),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            path => options.reports.push(PathBuf::from(path)),
        }
    }
    if options.reports.is_empty() {
        return Err(USAGE.to_owned());
    }
    Ok(options)
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot list: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn print_trace(report: &Report, lines: &[Line]) {
    let names = report.actor_names();
    let width = names.iter().map(String::len).max().unwrap_or(5).max(5);
    for line in lines {
        let actor = line.actor.map_or("setup", |a| names[a].as_str());
        println!("    {actor:width$}  {} -> {}", line.op, line.result);
        println!("    {:width$}      | {}", "", line.state);
    }
}

/// Replays the failing interleaving without a checker and prints it.
fn show(report: &Report, imp: Impl, steps: Vec<usize>, found: &[String]) {
    let names = report.actor_names();
    let replayed = explore::replay_witness(report, imp, steps.clone());
    println!("  trace (actor  operation -> result | state after):");
    print_trace(report, &replayed.execution.lines);
    let again: Vec<String> = replayed
        .execution
        .violations
        .iter()
        .map(|v| format!("{}: {}", v.invariant, v.message))
        .collect();
    if again != found {
        println!("  note: the witness replay saw: {}", again.join("; "));
    }
    if let Some(divergence) = replayed.divergence {
        println!("  note: {divergence}");
    }
    println!("  witness = \"{}\"", trace::render(&steps, &names));
}

fn run(options: &Options) -> Result<bool, String> {
    let mut any_violation = false;
    for path in &options.reports {
        let report = Arc::new(report::load(path).map_err(|e| e.to_string())?);
        options.imp.supports(&report)?;
        let target = (options.imp == Impl::Legacy).then_some(report.invariant);
        let names = report.actor_names();
        if options.witness {
            let witness = report
                .witness
                .as_deref()
                .ok_or_else(|| format!("{}: no witness in this report", path.display()))?;
            let steps =
                trace::parse(witness, &names).map_err(|e| format!("{}: {e}", path.display()))?;
            let replayed = explore::replay_witness(&report, options.imp, steps);
            let hit = explore::relevant(&replayed.execution.violations, target);
            println!(
                "{} ({}, witness replay): {}",
                report.id,
                options.imp.name(),
                if hit { "VIOLATION" } else { "ok" }
            );
            for v in &replayed.execution.violations {
                println!("  {}: {}", v.invariant, v.message);
            }
            print_trace(&report, &replayed.execution.lines);
            if let Some(divergence) = replayed.divergence {
                println!("  note: {divergence}");
            }
            any_violation |= hit;
            continue;
        }
        let exploration: Exploration = match &options.replay {
            Some(schedule) => explore::replay_schedule(&report, options.imp, schedule, target),
            None => explore::explore(
                &report,
                options.imp,
                options.checker.unwrap_or(Checker::Pct),
                &options.budget,
                target,
            ),
        };
        if let Some(error) = &exploration.error {
            return Err(format!(
                "{}: {} failed: {error}",
                path.display(),
                exploration.checker
            ));
        }
        let seconds = exploration.elapsed.as_secs_f64();
        match &exploration.failure {
            None => println!(
                "{} ({}, {}): ok, {} executions in {seconds:.2} s",
                report.id,
                options.imp.name(),
                exploration.checker,
                exploration.executions
            ),
            Some(failure) => {
                any_violation = true;
                println!(
                    "{} ({}, {}): VIOLATION after {} executions in {seconds:.2} s",
                    report.id,
                    options.imp.name(),
                    exploration.checker,
                    exploration.executions
                );
                let found: Vec<String> = failure
                    .violations
                    .iter()
                    .map(|v| format!("{}: {}", v.invariant, v.message))
                    .collect();
                for line in &found {
                    println!("  {line}");
                }
                if std::env::var_os("BATON_REPRO_FACTS").is_some() {
                    for fact in &failure.facts {
                        println!("  fact {fact:?}");
                    }
                }
                show(&report, options.imp, failure.steps.clone(), &found);
                match &failure.schedule {
                    Some(schedule) => println!("  schedule = \"{schedule}\""),
                    None => {
                        println!("  schedule: none (loom has no schedule strings; use the witness)")
                    }
                }
            }
        }
    }
    Ok(any_violation)
}

fn main() -> ExitCode {
    // Checkers stop by panicking; the report below says what happened.
    std::panic::set_hook(Box::new(|_| {}));
    if std::env::args().any(|a| a == "--from-journal") {
        return match from_journal() {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("baton-repro: {message}");
                ExitCode::from(2)
            }
        };
    }
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("baton-repro: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(message) => {
            eprintln!("baton-repro: {message}");
            ExitCode::from(2)
        }
    }
}

/// `--from-journal PATH`: a journal to a report, on stdout or `--out`.
fn from_journal() -> Result<(), String> {
    let mut journal = None;
    let mut out = None;
    let mut header = incident::Header {
        id: "INCIDENT".to_owned(),
        title: "operations replayed from a deployment's journal".to_owned(),
        invariant: "no_loss".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--from-journal" => journal = Some(PathBuf::from(value("--from-journal")?)),
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--id" => header.id = value("--id")?,
            "--title" => header.title = value("--title")?,
            "--invariant" => {
                let name = value("--invariant")?;
                name.parse::<baton_model_tests::invariants::Invariant>()?;
                header.invariant = name;
            }
            other => return Err(format!("--from-journal does not take {other}\n{USAGE}")),
        }
    }
    let journal = journal.ok_or("--from-journal needs a value")?;
    let entries = incident::read(&journal).map_err(|e| e.to_string())?;
    let converted =
        incident::convert(&entries, &header).map_err(|e| format!("{}: {e}", journal.display()))?;
    // What is written must load as a report: checked before it is written.
    report::parse(Path::new("<from journal>"), &converted.toml)
        .map_err(|e| format!("{}: the report made does not parse: {e}", journal.display()))?;
    match out {
        Some(path) => std::fs::write(&path, &converted.toml)
            .map_err(|e| format!("{}: cannot write: {e}", path.display())),
        None => {
            print!("{}", converted.toml);
            Ok(())
        }
    }
}

//! `wemu fuzz`: fuzz one device component alone (docs/fuzzing.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::EXIT_DEVICE_FAULT;
use crate::options::{DeviceLimitArgs, PathArgs, loader, parse_duration};

/// `wemu fuzz NAME`: exit status 0 when nothing was found, 125 when the
/// device has findings, 101 when the host itself panicked.
#[derive(Args)]
pub(crate) struct FuzzArgs {
    /// Device component: a name on the device path or a path to a .wasm file.
    #[arg(value_name = "NAME|FILE")]
    pub(crate) name: String,

    /// The device's properties, as in --device: k=v,k2=v2.
    #[arg(long, value_name = "K=V,...")]
    pub(crate) props: Option<String>,

    /// Stop after this long (e.g. 60s, 5m, 1h) [default: run until interrupted].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) time: Option<std::time::Duration>,

    /// Stop after this many executions (all workers together).
    #[arg(long, value_name = "N")]
    pub(crate) runs: Option<u64>,

    /// Seed of the mutation engine (with --jobs 1, a run is reproducible).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub(crate) seed: u64,

    /// Corpus directory, read at start, new inputs added [default: ./wemu-fuzz/NAME/corpus].
    #[arg(long, value_name = "DIR")]
    pub(crate) corpus: Option<PathBuf>,

    /// Where reproducers go, named KIND-HASH [default: ./wemu-fuzz/NAME/crashes].
    #[arg(long, value_name = "DIR")]
    pub(crate) crashes: Option<PathBuf>,

    /// Worker threads, each with its own instances, sharing the corpus.
    #[arg(long, value_name = "J", default_value_t = 1)]
    pub(crate) jobs: usize,

    /// Run FILE once and print the operation trace and the finding.
    #[arg(long, value_name = "FILE", conflicts_with = "minimize")]
    pub(crate) replay: Option<PathBuf>,

    /// Shrink FILE while the same kind of finding reproduces; writes FILE.min.
    #[arg(long, value_name = "FILE")]
    pub(crate) minimize: Option<PathBuf>,

    /// Stop at the first finding (as libFuzzer does).
    #[arg(long)]
    pub(crate) stop_on_finding: bool,

    /// Do not instrument the device for coverage (blind mutation).
    #[arg(long)]
    pub(crate) no_coverage: bool,

    /// Do not report these finding kinds (trap, hang, memory, contract, dma,
    /// save-restore, reset, host-panic). Repeatable or comma-separated.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub(crate) ignore: Vec<wemu_devfuzz::FindingKind>,

    #[command(flatten)]
    pub(crate) limits: DeviceLimitArgs,

    #[command(flatten)]
    pub(crate) paths: PathArgs,
}

pub(crate) fn run(args: FuzzArgs) -> Result<ExitCode> {
    use wemu_devfuzz::{self as fuzz, FindingKind};
    const EXIT_FINDING: u8 = EXIT_DEVICE_FAULT;
    const EXIT_HOST_PANIC: u8 = 101;

    let loader = loader(&args.paths)?;
    let mut opts = fuzz::FuzzTargetOptions::new(&args.name);
    opts.props = fuzz::parse_props(args.props.as_deref().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("--props: {e}"))?;
    // Replays run instrumented too: the same code burns the same fuel.
    opts.coverage = !args.no_coverage;
    opts.fuel = args.limits.fuel;
    opts.memory_limit = args.limits.memory();
    let target = std::sync::Arc::new(fuzz::FuzzTarget::load(&loader, &opts)?);
    if let Some(note) = &target.coverage_note {
        eprintln!("wemu fuzz: warning: {note}; fuzzing without coverage");
    }
    fuzz::install_panic_hook();
    let status = |kind: Option<FindingKind>| match kind {
        None => ExitCode::SUCCESS,
        Some(FindingKind::HostPanic) => ExitCode::from(EXIT_HOST_PANIC),
        Some(_) => ExitCode::from(EXIT_FINDING),
    };

    if let Some(file) = &args.replay {
        let input = wemu_sandbox::file_caps::read_fuzz_input(file)?;
        let (trace, finding) = fuzz::replay(&target, &input, &args.ignore);
        println!("{} operations from {} ({} bytes)", trace.len(), file.display(), input.len());
        for line in &trace {
            println!("{line}");
        }
        match &finding {
            Some(f) => println!("FINDING {f}"),
            None => println!("no finding"),
        }
        return Ok(status(finding.map(|f| f.kind)));
    }

    if let Some(file) = &args.minimize {
        let input = wemu_sandbox::file_caps::read_fuzz_input(file)?;
        let Some(m) = fuzz::minimize(&target, &input, &args.ignore, 20_000) else {
            anyhow::bail!("{} produces no finding: nothing to minimize", file.display());
        };
        let mut out = file.clone().into_os_string();
        out.push(".min");
        let out = PathBuf::from(out);
        std::fs::write(&out, &m.input).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "minimized {} -> {} operations ({} -> {} bytes, {} runs), written to {}",
            m.ops_before,
            m.ops_after,
            input.len(),
            m.input.len(),
            m.execs,
            out.display()
        );
        let (trace, finding) = fuzz::replay(&target, &m.input, &args.ignore);
        for line in &trace {
            println!("{line}");
        }
        match &finding {
            Some(f) => println!("FINDING {f}"),
            None => println!("no finding (the minimized input did not reproduce on a fresh instance)"),
        }
        return Ok(status(finding.map(|f| f.kind)));
    }

    let base = PathBuf::from("wemu-fuzz").join(args.name.replace('/', "_"));
    let options = fuzz::FuzzOptions {
        jobs: args.jobs,
        seed: args.seed,
        runs: args.runs,
        time: args.time,
        corpus_dir: args.corpus.clone().unwrap_or_else(|| base.join("corpus")),
        crashes_dir: args.crashes.clone().unwrap_or_else(|| base.join("crashes")),
        ignore: args.ignore.clone(),
        stop_on_finding: args.stop_on_finding,
    };
    let d = target.codec.profile();
    let regions: Vec<String> = d.regions.iter().map(|(n, s)| format!("{n} ({s:#x})")).collect();
    eprintln!(
        "wemu fuzz: {} — regions {}, {} IRQ inputs, capabilities [{}], {} dictionary values, {}, {} worker(s), seed {}",
        args.name,
        if regions.is_empty() { "none".into() } else { regions.join(", ") },
        d.irq_inputs,
        target.loaded.checked.capabilities.join(", "),
        d.dictionary.len(),
        match target.blocks {
            Some(b) => format!(
                "{b} blocks and {} comparisons instrumented ({} counters)",
                target.sites.len(),
                target.counters
            ),
            None => "no coverage".into(),
        },
        options.jobs.max(1),
        options.seed
    );
    let summary = fuzz::fuzz(target.clone(), &options, &mut |p| eprintln!("wemu fuzz: {p}"))?;
    let p = &summary.progress;
    eprintln!(
        "wemu fuzz: done: {} execs in {:.2} s = {:.0} execs/s ({:.0} per worker, {:.1} operations per input); corpus {}; {}; {} finding(s)",
        p.execs,
        p.elapsed.as_secs_f64(),
        p.rate(),
        p.rate() / options.jobs.max(1) as f64,
        p.ops_per_exec,
        p.corpus,
        match p.blocks {
            Some(total) =>
                format!("coverage {}/{} blocks + {} cmp features", p.blocks_hit, total, p.features),
            None => "coverage off".into(),
        },
        summary.findings.len()
    );
    for (f, path) in &summary.findings {
        println!("{}	{}", f.kind, path.display());
    }
    if summary.fuzzer_panic.is_some() {
        // Reported when it happened; the run stopped there.
        eprintln!(
            "wemu fuzz: the run ended on a panic of the fuzzer itself (above): a wemu bug, please report it"
        );
        return Ok(ExitCode::from(EXIT_HOST_PANIC));
    }
    let worst =
        summary.findings.iter().map(|(f, _)| f.kind).max_by_key(|k| u8::from(*k == FindingKind::HostPanic));
    Ok(status(worst))
}

//! The official Stripe SDKs (PyPI `stripe` and npm `stripe`, pinned in
//! `tests/sdk`) drive the sim through the flows a paywarden user relies on:
//! `tests/sdk/conformance/flows.py` and `flows.mjs`, one sim per SDK run
//! (node's with webhook delivery chaos on). A second test runs the
//! overlapping part against localstripe too and records where it differs
//! from Stripe (`localstripe_compare.py`).
//!
//! The SDKs are installed by `tests/sdk/setup`, which `scripts/test` runs
//! and whose paths it exports. Outside CI, with none of the variables set,
//! the tests say so and pass without running; in CI (`CI=true`) a missing
//! SDK fails them: a skipped SDK check would look like a passing one.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use paywarden_sim::delivery::DeliverySettings;
use paywarden_sim::state::Settings;
use paywarden_sim::Sim;
use tokio::process::Command;

const HOW_TO_FIX: &str = "run scripts/test (or tests/sdk/setup, then export PAYWARDEN_SDK_PYTHON, \
     PAYWARDEN_SDK_DIR and PAYWARDEN_LOCALSTRIPE_PYTHON as scripts/test does)";

/// One SDK run may take this long (the flows advance test clocks and wait
/// for webhook deliveries).
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Where the SDKs are, or `None` when this is a developer's run without
/// them (never in CI: there a missing SDK is a failure).
struct Sdks {
    python: PathBuf,
    dir: PathBuf,
}

fn sdks(extra: &[&str]) -> Option<Sdks> {
    let python = env_path("PAYWARDEN_SDK_PYTHON");
    let dir = env_path("PAYWARDEN_SDK_DIR");
    let extras_missing = extra.iter().any(|name| env_path(name).is_none());
    if (python.is_none() || dir.is_none() || extras_missing) && !in_ci() {
        eprintln!(
            "SKIPPED: the official Stripe SDKs are not configured (PAYWARDEN_SDK_PYTHON, \
             PAYWARDEN_SDK_DIR{}{} unset) and CI is unset; {HOW_TO_FIX}",
            if extra.is_empty() { "" } else { ", " },
            extra.join(", ")
        );
        return None;
    }
    let python = python.unwrap_or_else(|| workspace().join(".cache/sdk-venv/bin/python"));
    let dir = dir.unwrap_or_else(|| workspace().join("tests/sdk"));
    assert!(
        python.exists(),
        "the Python Stripe SDK is not installed ({} missing): {HOW_TO_FIX}",
        python.display()
    );
    assert!(
        dir.join("node_modules/stripe/package.json").exists(),
        "the Node Stripe SDK is not installed ({} missing): {HOW_TO_FIX}",
        dir.join("node_modules/stripe").display()
    );
    assert!(
        dir.join("conformance/flows.py").exists() && dir.join("conformance/flows.mjs").exists(),
        "no conformance suite in {}: {HOW_TO_FIX}",
        dir.display()
    );
    Some(Sdks { python, dir })
}

/// A sim on `127.0.0.1:0` whose hosted pages point at itself.
struct RunningSim {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_sim(delivery: DeliverySettings) -> RunningSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let sim = Sim::with_settings(Settings {
        public_url: base.clone(),
        delivery,
        ..Settings::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(paywarden_sim::serve(listener, sim, async move {
        let _ = stopped.await;
    }));
    RunningSim { base, _stop: stop }
}

/// Runs `program args`, killed after [`RUN_LIMIT`].
async fn run(label: &str, program: &Path, args: &[String]) -> Output {
    let child = Command::new(program)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{label}: {} did not start ({e}): {HOW_TO_FIX}",
                program.display()
            )
        });
    match tokio::time::timeout(RUN_LIMIT, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("{label}: no output ({e})")),
        Err(_) => panic!("{label}: still running after {RUN_LIMIT:?}"),
    }
}

fn report(label: &str, output: &Output) -> String {
    format!(
        "{label} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the run passed and its closing line counts at least one flow.
fn assert_passed(label: &str, output: &Output) {
    let text = report(label, output);
    assert!(output.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let closing = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or("");
    assert!(
        closing.contains(" 0 failed") && !closing.starts_with("0 passed"),
        "{label}: no passing closing line\n{text}"
    );
    eprintln!("{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_drive_every_flow() {
    let Some(sdks) = sdks(&[]) else { return };
    let suite = sdks.dir.join("conformance");

    // Python against Stripe's ordinary delivery.
    let sim = start_sim(DeliverySettings::default()).await;
    let args = vec![
        suite.join("flows.py").display().to_string(),
        "--base".to_owned(),
        sim.base.clone(),
    ];
    let output = run("python stripe", &sdks.python, &args).await;
    assert_passed("python stripe", &output);
    drop(sim);

    // Node against delivery chaos: every event twice, shuffled in groups,
    // bursts sharing one `created`; every copy must still verify.
    let sim = start_sim(DeliverySettings {
        duplicate_probability: 1.0,
        reorder_window: 4,
        same_second: true,
        seed: 4242,
        ..DeliverySettings::default()
    })
    .await;
    let args = vec![
        suite.join("flows.mjs").display().to_string(),
        "--base".to_owned(),
        sim.base.clone(),
        "--expect-duplicates".to_owned(),
    ];
    let output = run("node stripe", Path::new("node"), &args).await;
    assert_passed("node stripe", &output);
}

/// The overlapping flows against the sim (which must answer as Stripe) and
/// against localstripe (whose differences are recorded, not failed on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localstripe_differences_are_recorded() {
    let Some(sdks) = sdks(&["PAYWARDEN_LOCALSTRIPE_PYTHON"]) else {
        return;
    };
    let localstripe = env_path("PAYWARDEN_LOCALSTRIPE_PYTHON")
        .unwrap_or_else(|| workspace().join(".cache/localstripe-venv/bin/python"));
    assert!(
        localstripe.exists(),
        "localstripe is not installed ({} missing): {HOW_TO_FIX}",
        localstripe.display()
    );
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("localstripe-differences.json");
    let _ = std::fs::remove_file(&report);

    let sim = start_sim(DeliverySettings::default()).await;
    let args = vec![
        sdks.dir
            .join("conformance/localstripe_compare.py")
            .display()
            .to_string(),
        "--sim".to_owned(),
        sim.base.clone(),
        "--localstripe-python".to_owned(),
        localstripe.display().to_string(),
        "--report".to_owned(),
        report.display().to_string(),
    ];
    let output = run("localstripe comparison", &sdks.python, &args).await;
    assert_passed("localstripe comparison", &output);

    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report at {} ({e})", report.display()));
    let report: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    let reached = report["localstripe_reached"].as_u64().unwrap_or(0);
    assert!(
        reached > 0,
        "the comparison never reached localstripe: {report}"
    );
    assert_eq!(
        report["asserted_sim_matches"], report["asserted_on_sim"],
        "every asserted check answers as Stripe on the sim"
    );
}

//! What `contrib/` installs next to the binaries: the systemd units, checked by systemd's own
//! `systemd-analyze verify` (and its offline security review), the template unit held to the
//! main unit, the logrotate snippet checked by logrotate, and the packaged example
//! configuration checked by `edgeship --check-config`. The units name `/usr/bin/edgeship`,
//! which `verify` wants to exist, so they are checked as copies pointing at the binary under
//! test. `systemd-analyze` and `logrotate` come from scripts/setup.

// clippy.toml lets tests unwrap; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use edgeship_testkit::scratch::ScratchDir;

/// A file of the repository's `contrib/` directory.
fn contrib(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib")
        .join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The unit `name` from `contrib/systemd`, written into `dir` with the binary under test
/// instead of `/usr/bin/edgeship` and each `(from, to)` line replaced; returns its path.
fn unit_copy(dir: &ScratchDir, name: &str, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = read(&contrib(&format!("systemd/{name}")))
        .replace("/usr/bin/edgeship", common::edgeship_binary());
    for (from, to) in replace {
        assert!(text.contains(from), "{name} has no line {from:?}");
        text = text.replace(from, to);
    }
    dir.write(name, text).unwrap()
}

/// Runs a tool and returns whether it succeeded and everything it printed.
fn run(program: &str, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run {program} (scripts/setup installs it): {error}"));
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

/// `systemd-analyze verify` on one unit file. Documentation= names man pages that only the
/// installed package provides, so they are not looked up.
fn verify(unit: &Path) -> (bool, String) {
    run(
        "systemd-analyze",
        &["verify".as_ref(), "--man=no".as_ref(), unit.as_os_str()],
    )
}

#[test]
fn systemd_accepts_both_units_without_a_word() {
    let dir = ScratchDir::new("units").unwrap();
    for name in ["edgeship.service", "edgeship@.service"] {
        let unit = unit_copy(&dir, name, &[]);
        let (ok, printed) = verify(&unit);
        assert!(ok && printed.is_empty(), "{name}: {printed}");
    }
}

#[test]
fn the_verification_catches_a_misspelt_setting() {
    // `verify` only warns about an unknown key and exits 0: the check above is "nothing
    // printed", and this is the case that shows it can fail.
    let dir = ScratchDir::new("units-typo").unwrap();
    let unit = unit_copy(
        &dir,
        "edgeship.service",
        &[("ProtectSystem=strict", "ProtectSytem=strict")],
    );
    let (_, printed) = verify(&unit);
    assert!(printed.contains("ProtectSytem"), "{printed}");
}

#[test]
fn the_main_unit_is_hardened_by_systemd_s_own_measure() {
    // systemd-analyze's exposure score runs from 0 (locked down) to 10; "OK" ends below 4.
    let dir = ScratchDir::new("units-security").unwrap();
    let unit = unit_copy(&dir, "edgeship.service", &[]);
    let (ok, printed) = run(
        "systemd-analyze",
        &[
            "security".as_ref(),
            "--offline=yes".as_ref(),
            "--threshold=30".as_ref(),
            unit.as_os_str(),
        ],
    );
    assert!(ok, "exposure above 3.0:\n{printed}");
}

#[test]
fn the_units_run_edgeship_as_systemd_supervises_it() {
    let unit = read(&contrib("systemd/edgeship.service"));
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "User=edgeship",
        "SupplementaryGroups=varnish",
        "StateDirectory=edgeship",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line:?} in the unit");
    }
    let exec = unit
        .lines()
        .find(|line| line.starts_with("ExecStart="))
        .unwrap();
    assert!(!exec.contains("-D"), "the unit must not daemonize: {exec}");
    // The watchdog's stop is a clean stop, within the unit's stop timeout.
    assert!(unit.contains("\nWatchdogSec=60\n") && unit.contains("\nWatchdogSignal=SIGTERM\n"));
}

#[test]
fn the_template_is_the_main_unit_with_one_configuration_per_instance() {
    let main = read(&contrib("systemd/edgeship.service"));
    let template = read(&contrib("systemd/edgeship@.service"));
    let main_lines: Vec<&str> = main.lines().collect();
    let template_lines: Vec<&str> = template.lines().collect();
    assert_eq!(
        main_lines.len(),
        template_lines.len(),
        "same settings, line for line"
    );
    for (main_line, template_line) in main_lines.iter().zip(&template_lines) {
        if main_line.starts_with('#') || main_line == template_line {
            continue;
        }
        let expected = match *main_line {
            "Description=edgeship: Varnish request log to Kafka" => {
                "Description=edgeship: Varnish request log to Kafka (%i)"
            }
            "Environment=EDGESHIP_CONFIG=/etc/edgeship/edgeship.conf" => {
                "Environment=EDGESHIP_CONFIG=/etc/edgeship/%i.conf"
            }
            other => panic!("the template differs from the main unit at {other:?}"),
        };
        assert_eq!(*template_line, expected);
    }
}

#[test]
fn the_packaged_configuration_is_valid_and_fits_the_unit() {
    let config = contrib("edgeship.conf");
    let (code, stderr) =
        common::run_edgeship(&["--check-config".as_ref(), "-S".as_ref(), config.as_os_str()]);
    assert_eq!(code, Some(0), "{stderr}");
    let text = read(&config);
    // Foreground under Type=notify, and the statistics file where the unit may write and
    // logrotate looks.
    assert!(text.contains("\ndaemonize = false\n"));
    assert!(text.contains("\nlog.statistics.file = /var/log/edgeship/edgeship.stats.json\n"));
}

#[test]
fn logrotate_accepts_the_snippet() {
    // logrotate refuses a `su` user that does not exist, and the package creates `edgeship`
    // only on install: the check runs the snippet as root.
    let dir = ScratchDir::new("logrotate").unwrap();
    let snippet = read(&contrib("logrotate/edgeship"));
    assert!(snippet.contains("\tsu edgeship edgeship\n"));
    let copy = dir
        .write(
            "edgeship",
            snippet.replace("su edgeship edgeship", "su root root"),
        )
        .unwrap();
    let state = dir.path().join("status");
    let (ok, printed) = run(
        "logrotate",
        &[
            "--debug".as_ref(),
            "--state".as_ref(),
            state.as_os_str(),
            copy.as_os_str(),
        ],
    );
    assert!(ok && !printed.contains("error:"), "{printed}");
    assert!(printed.contains("/var/log/edgeship/*.json"), "{printed}");
}

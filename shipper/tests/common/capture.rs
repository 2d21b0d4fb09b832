//! Captures of varnishd's log for the tests that read a file (`-r`): the ring written to a
//! file with `varnishlog -w`, and what varnishlog itself reads back from one (a cut one
//! included), so a test compares the shipper with Varnish's own reader.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use edgeship_testkit::varnishd::Varnishd;

/// Writes what is in varnishd's log ring to `file` (`varnishlog -d -w`).
pub(crate) fn capture(varnishd: &Varnishd, file: &Path) {
    let status = Command::new("varnishlog")
        .arg("-n")
        .arg(varnishd.workdir())
        .args(["-d", "-g", "raw", "-w"])
        .arg(file)
        .status()
        .expect("run varnishlog");
    assert!(status.success(), "varnishlog -w failed: {status}");
}

/// What varnishlog itself reads from a capture, per client request vxid: its URL and
/// whether its `End` is there.
pub(crate) fn requests_in(file: &Path) -> BTreeMap<u64, (Option<String>, bool)> {
    let output = Command::new("varnishlog")
        .arg("-r")
        .arg(file)
        .args(["-g", "raw", "-i", "Begin,ReqURL,End"])
        .output()
        .expect("run varnishlog");
    let mut requests: BTreeMap<u64, (Option<String>, bool)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [vxid, tag, _side, payload @ ..] = fields.as_slice() else {
            continue;
        };
        let Ok(vxid) = vxid.parse::<u64>() else {
            continue;
        };
        match *tag {
            "Begin" if payload.first() == Some(&"req") => {
                requests.insert(vxid, (None, false));
            }
            "ReqURL" => {
                if let Some(request) = requests.get_mut(&vxid) {
                    request.0 = payload.first().map(|url| (*url).to_owned());
                }
            }
            "End" => {
                if let Some(request) = requests.get_mut(&vxid) {
                    request.1 = true;
                }
            }
            _ => {}
        }
    }
    requests
}

//! Build script: finds libvarnishapi with pkg-config, checks that its log record layout is the
//! one this crate mirrors, and runs bindgen over the headers into `OUT_DIR`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// Lines of `vapi/vsl_int.h` that define the record header layout mirrored by hand in
/// `src/ffi.rs`. Varnish 7.1 uses a two-word header with a 30-bit vxid; later releases
/// (7.3 and up) changed it, so any difference stops the build instead of misreading the log.
const EXPECTED_LAYOUT: &[(&str, &str)] = &[
    ("VSL_CLIENTMARKER", "(1U<<30)"),
    ("VSL_BACKENDMARKER", "(1U<<31)"),
    ("VSL_IDENTMASK", "(~(3U<<30))"),
    ("VSL_LENMASK", "0xffff"),
    ("VSL_OVERHEAD", "2"),
    ("VSL_SEGMENTS", "8U"),
    ("VSL_WORDS(len)", "(((len) + 3) / 4)"),
    ("VSL_TAG(ptr)", "((enum VSL_tag_e)((ptr)[0] >> 24))"),
    ("VSL_ID(ptr)", "(((ptr)[1]) & VSL_IDENTMASK)"),
    ("VSL_BATCHLEN(ptr)", "((ptr)[1])"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/wrapper.h");

    let library = match pkg_config::Config::new()
        .atleast_version("7.1")
        .probe("varnishapi")
    {
        Ok(library) => library,
        Err(error) => panic!(
            "edgeship-varnishlog needs libvarnishapi (Debian: libvarnishapi-dev, Varnish 7.1) \
             found through pkg-config as `varnishapi`: {error}"
        ),
    };

    let header_dir = library
        .include_paths
        .iter()
        .find(|dir| dir.join("vapi/vsl_int.h").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "pkg-config found varnishapi {} but none of its include paths {:?} holds \
                 vapi/vsl_int.h",
                library.version, library.include_paths
            )
        });
    check_layout(&header_dir.join("vapi/vsl_int.h"), &library.version);
    println!(
        "cargo:rustc-env=EDGESHIP_VARNISHAPI_VERSION={}",
        library.version
    );

    let mut builder = bindgen::Builder::default()
        .header("src/wrapper.h")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .allowlist_function("VSL_.*")
        .allowlist_function("VSLQ_.*")
        .allowlist_function("VSM_.*")
        .allowlist_var("VSL_tags")
        .allowlist_var("VSL_COPT_.*")
        .allowlist_var("VSM_WRK_.*")
        .allowlist_var("VSM_MGT_.*")
        .allowlist_type("VSL_.*")
        .allowlist_type("VSLC_ptr")
        .allowlist_type("vsl_.*")
        // Functions that take `FILE *` or printf-style output are not used; keeping them out
        // keeps libc's FILE type out of the bindings.
        .blocklist_function("VSL_Print.*")
        .blocklist_function("VSL_Write.*")
        .blocklist_type("FILE")
        .blocklist_type("_IO_.*")
        // Plain integer constants rather than Rust enums: a value C returns that the enum does
        // not list must never become undefined behaviour on our side.
        .constified_enum_module("vsl_status")
        .constified_enum_module("vsl_check")
        .constified_enum_module("VSL_tag_e")
        .constified_enum_module("VSL_transaction_e")
        .constified_enum_module("VSL_reason_e")
        .constified_enum_module("VSL_grouping_e")
        .layout_tests(false)
        .generate_comments(false);
    for dir in &library.include_paths {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|error| panic!("bindgen failed on the varnishapi headers: {error}"));

    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| panic!("OUT_DIR is not set")));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|error| panic!("cannot write the bindings: {error}"));
}

/// Stops the build when `vsl_int.h` does not define the record layout we mirror.
fn check_layout(vsl_int: &Path, version: &str) {
    println!("cargo:rerun-if-changed={}", vsl_int.display());
    let text = fs::read_to_string(vsl_int)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", vsl_int.display()));
    for (name, value) in EXPECTED_LAYOUT {
        let found = text.lines().find_map(|line| {
            let rest = line.strip_prefix("#define")?.trim_start();
            let rest = rest.strip_prefix(name)?;
            // The name must end here (not be a prefix of a longer macro name).
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            Some(
                rest.split("/*")
                    .next()
                    .unwrap_or("")
                    .split("//")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned(),
            )
        });
        match found {
            Some(found) if found == *value => {}
            Some(found) => panic!(
                "unsupported Varnish log record layout in {} (varnishapi {version}): \
                 `{name}` is `{found}`, this crate mirrors `{value}` (Varnish 7.1). \
                 Supported and tested: Varnish 7.1 (Debian's libvarnishapi-dev).",
                vsl_int.display()
            ),
            None => panic!(
                "unsupported Varnish log record layout in {} (varnishapi {version}): \
                 `{name}` is not defined. Supported and tested: Varnish 7.1 \
                 (Debian's libvarnishapi-dev).",
                vsl_int.display()
            ),
        }
    }
}

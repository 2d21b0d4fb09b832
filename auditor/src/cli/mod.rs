//! The `edgeship-audit` command line: its options ([`Args`]), their checking into the
//! library's settings, and running the audit they describe ([`run`]). The binary parses the
//! arguments, calls [`run`] and maps the report's worst status, or the error, to an exit code.

mod args;
mod progress;
mod properties;
mod run;
mod settings;

pub use args::{Args, ReportFormat};
pub use properties::PropertiesError;
pub use run::{run, RunError};
pub use settings::OptionsError;

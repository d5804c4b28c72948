//! The `portqry` binary: parse, run, map the outcome to an exit code.

use portqry::cli::{self, Command};
use portqry::{Error, report};

fn main() {
    let code = match cli::parse(std::env::args_os().collect()) {
        Ok(Command::Print(text)) => report::print_text(&text).map_or_else(|e| fail(&e), |_| 0),
        Ok(Command::Run(cfg)) => {
            portqry::cancel::install_handlers();
            portqry::run::run(&cfg).unwrap_or_else(|e| fail(&e))
        }
        Ok(Command::Interactive(cfg)) => {
            portqry::cancel::install_handlers();
            portqry::interactive::run(&cfg).unwrap_or_else(|e| fail(&e))
        }
        Ok(Command::Local(cfg)) => {
            portqry::cancel::install_handlers();
            portqry::local::run::run(&cfg).unwrap_or_else(|e| fail(&e))
        }
        Err(e) => fail(&e),
    };
    std::process::exit(code);
}

fn fail(e: &Error) -> i32 {
    // A reader that closed the pipe wants nothing more, not even an error.
    if !matches!(e, Error::BrokenPipe) {
        report::error_line(&format!("portqry: {e}"));
    }
    e.exit_code()
}

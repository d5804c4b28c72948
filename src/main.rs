//! The `portqry` binary: parse, run, map the outcome to an exit code.

use portqry::cli::{self, Command};

fn main() {
    let code = match cli::parse(std::env::args_os().collect()) {
        Ok(Command::Print(text)) => {
            print!("{text}");
            0
        }
        Ok(Command::Run(cfg)) => {
            portqry::run::install_interrupt_handler();
            portqry::run::run(&cfg).unwrap_or_else(|e| fail(&e))
        }
        Err(e) => fail(&e),
    };
    std::process::exit(code);
}

fn fail(e: &portqry::Error) -> i32 {
    eprintln!("portqry: {e}");
    e.exit_code()
}

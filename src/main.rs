//! The `portqry` binary: parse, run, map the outcome to an exit code.

use portqry::cli::{self, Command};

fn main() {
    let code = match cli::parse(std::env::args_os().collect()) {
        Ok(Command::Print(text)) => {
            print!("{text}");
            0
        }
        Ok(Command::Run(cfg)) => match portqry::run::run(&cfg) {
            Ok(code) => code,
            Err(e) => fail(&e),
        },
        Err(e) => fail(&e),
    };
    std::process::exit(code);
}

fn fail(e: &portqry::Error) -> i32 {
    eprintln!("portqry: {e}");
    e.exit_code()
}

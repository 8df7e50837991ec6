use clap::Parser;
use omnibridge::cli::{self, Cli};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let filter = match cli.command {
        cli::Command::Sandbox { .. } => omnibridge::telemetry::QUIET_FILTER,
        _ => omnibridge::telemetry::DEFAULT_FILTER,
    };
    omnibridge::telemetry::init_with(cli.log_format, filter);
    match cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            // One clear line (with its causes), then exit code 1.
            let causes: Vec<String> = err.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", causes.join(": "));
            std::process::exit(1);
        }
    }
}

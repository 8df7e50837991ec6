use clap::Parser;
use omnibridge::cli::{self, Cli};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    omnibridge::telemetry::init(cli.log_format);
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

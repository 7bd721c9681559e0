use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    ema_bridge::cli::main().await
}

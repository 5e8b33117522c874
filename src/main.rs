//! The binary: parse the command line, set up logging, bind, serve until Ctrl-C or SIGTERM.

use result_aggregation_server::cli::{self, Command};
use result_aggregation_server::server::{self, StartError};
use result_aggregation_server::Config;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

fn main() -> ExitCode {
    let command = cli::parse().command();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match command {
        Command::Serve(args) => match serve(args.into_config()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                log::error!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::DeleteUser(args) => cli::delete_user(args),
        Command::Generate(args) => cli::generate(args),
        Command::RebuildTallies(args) => cli::rebuild_tallies(args),
        Command::Verify(args) => cli::verify(args),
        Command::Workshop(args) => cli::workshop(args),
        Command::Purge(args) => cli::purge(args),
        Command::Backup(args) => cli::backup(args),
    }
}

fn serve(config: Config) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Bind(config.listen, e))?;
        let addr = listener.local_addr().unwrap_or(config.listen);
        log::info!("listening on http://{addr}");
        server::serve(listener, config, async move { shutdown.notified().await }).await
    })
}

/// Ctrl-C and SIGTERM (ctrlc's `termination` feature) start a graceful shutdown; a second
/// signal ends the process at once.
fn shutdown_signal() -> Arc<Notify> {
    let notify = Arc::new(Notify::new());
    let signalled = AtomicBool::new(false);
    let on_signal = notify.clone();
    let installed = ctrlc::set_handler(move || {
        if signalled.swap(true, Ordering::SeqCst) {
            eprintln!("second signal: exiting without waiting");
            std::process::exit(130);
        }
        log::info!("signal received: shutting down");
        on_signal.notify_one();
    });
    if let Err(e) = installed {
        log::warn!("cannot catch Ctrl-C/SIGTERM ({e}); the server will stop without draining");
    }
    notify
}

//! Runs the seed automation scenarios on a throw-away SQLite database and prints what the
//! webhook receiver got: `cargo run -p automation`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("rapport-automation-{}.db", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(automation::run(&path, |line| println!("{line}")));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let outcome = outcome?;
    println!(
        "{} actions received, {} messages in all, {} requests refused",
        outcome.actions.len(),
        outcome.messages,
        outcome.refused
    );
    Ok(())
}

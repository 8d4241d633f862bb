//! `cargo run -p outpost-bindings`: regenerates ui/src/lib/bindings/ from the Rust types.

fn main() {
    let dir = outpost_bindings::committed_dir();
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("cannot clear {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
    match outpost_bindings::export(&dir) {
        Ok(()) => println!("wrote {}", dir.display()),
        Err(e) => {
            eprintln!("export failed: {e}");
            std::process::exit(1);
        }
    }
}

//! The bundled templates are embedded when core compiles (`render.rs`);
//! cargo rebuilds core when a file under `templates/` is added, changed or
//! removed, so a new channel's template is never missing from the build.

fn main() {
    println!("cargo:rerun-if-changed=../../templates");
}

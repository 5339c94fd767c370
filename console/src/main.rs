//! Reads the console's configuration, then mounts it on the page's body; everything else is in
//! the library.

fn main() {
    // Leptos' own executor starts with the mount, which waits for the configuration.
    wasm_bindgen_futures::spawn_local(tollgate_console::start());
}

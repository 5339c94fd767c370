//! Mounts the console on the page's body; everything else is in the library.

fn main() {
    leptos::mount::mount_to_body(tollgate_console::App);
}

//! Decision Tree
//!
//! Basic structures and logic for decision trees, including prediction and tree management.
pub mod core;
pub mod predict;

pub use core::Tree;
pub use core::TreeStopper;

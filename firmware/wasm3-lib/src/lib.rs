//! Links wasm3's C objects (compiled by wasm3x-sys) into this static library; the C firmware
//! calls the m3_* symbols directly, no Rust code runs.
pub use wasm3x_sys::*;

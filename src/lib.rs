//! `healthcheck`: Coder's deployment health checks, run from outside the Coder server.
//!
//! The pipeline is settings -> checks -> report -> renderers -> output; `round` runs it once
//! (a single run, from `main.rs`), `watch` repeats it.

pub mod checks;
pub mod cli;
pub mod coder_db;
pub mod codes;
pub mod defaults;
pub mod diagnosis;
pub mod duration;
pub mod eventually;
pub mod files;
pub mod fuzzing;
pub mod generated;
pub mod net;
pub mod output;
pub mod pool;
pub mod redact;
pub mod render;
pub mod report;
pub mod round;
pub mod settings;
pub mod shutdown;
pub mod text;
pub mod watch;

//! One module per subcommand.

pub mod agent;
pub mod agents;
mod api_client;
pub mod apps;
pub mod chronos;
pub mod dev;
pub mod exec;
pub mod framework;
pub mod jobs;
pub mod kill;
pub mod logs;
pub mod maintenance;
pub mod marathon;
pub mod master;
pub mod master_ha;
pub mod roles;
pub mod run;
pub mod sim;
pub mod state;
pub mod upload;

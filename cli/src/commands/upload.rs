//! `wasmesos upload COMPONENT.wasm`: stores a component on the master and prints its digest,
//! for tasks that name it (`ExecutorInfo.digest`, or `wasmesos://sha256:DIGEST` from a Mesos
//! framework).

use std::path::PathBuf;
use std::process::ExitCode;

use super::run::{progress_of, upload_bar};
use super::state::{MasterArg, status_error};
use anyhow::Context;

const EXAMPLES: &str = "\
Examples:
  wasmesos upload target/wasmesos-guests/wasm32-wasip2/release/hello.wasm
  WASMESOS_MASTER=https://10.0.0.5:5050 wasmesos upload app.wasm --tls-ca ca.pem

Prints the component's sha256 digest. A component the master has already is not sent again.
The master checks it is a valid WebAssembly component whose imports agents provide, and
refuses it otherwise, saying why.";

/// Upload a WebAssembly component to the master and print its digest.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct UploadArgs {
    #[command(flatten)]
    master: MasterArg,
    /// The component (.wasm) to upload.
    component: PathBuf,
}

pub fn main(args: UploadArgs) -> ExitCode {
    match run(&args) {
        Ok(digest) => {
            println!("{digest}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos upload: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &UploadArgs) -> anyhow::Result<String> {
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("cannot read {}", args.component.display()))?;
    let name = args
        .component
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component.wasm".into());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let channel = args.master.channel().await?;
        let bar = upload_bar(bytes.len() as u64);
        bar.set_message(name.clone());
        let progress = progress_of(&bar);
        let uploaded = wasmesos_sdk_scheduler::upload(channel, &name, bytes, Some(progress)).await;
        bar.finish_and_clear();
        match uploaded {
            Ok(uploaded) => Ok(uploaded.digest),
            Err(wasmesos_sdk_scheduler::Error::Rpc { status, .. }) => {
                Err(status_error("Upload", &status))
            }
            Err(err) => Err(err.into()),
        }
    })
}

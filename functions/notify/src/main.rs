//! The notify function's Lambda entry point: settings and clients once, then one event at a time.

#[tokio::main]
async fn main() -> Result<(), tollgate_lambda::Error> {
    tollgate_lambda::init_tracing();
    let function = tollgate_fn_notify::Function::from_env().await?;
    tollgate_lambda::run(tollgate_lambda::service_fn(|event| function.handle(event))).await
}

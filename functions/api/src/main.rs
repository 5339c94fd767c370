//! The API function's Lambda entry point: settings and clients once, then the router serves
//! each API Gateway request.

#[tokio::main]
async fn main() -> Result<(), tollgate_lambda::Error> {
    tollgate_lambda::init_tracing();
    let common = tollgate_lambda::Common::from_env()?;
    let aws = tollgate_aws::sdk_config(None).await;
    let app = tollgate_fn_api::app_from_env(&aws, &common)?;
    let router = tollgate_fn_api::router(app, tollgate_fn_api::JwtClaims::from_env());
    lambda_http::run(router).await
}

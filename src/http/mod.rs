//! HTTP helpers every feature shares: building responses, the one place where a request
//! error becomes a status code and a JSON body, and who the client is. Imports no feature.

pub(crate) mod body;
mod client;
mod error;
pub(crate) mod request_log;
pub(crate) mod response;
pub(crate) mod route;

pub(crate) use client::ArrivedAt;
pub(crate) use client::{base_url, client_ip, has_several_hosts};
pub(crate) use error::RequestError;

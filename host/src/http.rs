//! HTTP for the core's registry protocol: one request per call, redirects returned (never
//! followed), https always verified (webpki roots), blob bodies streamed from the store.

use crate::errors::{error, io_error};
use crate::runtime::outport::core::types::{HttpBody, HttpRequest, HttpResponse};
use crate::runtime::{CoreError, ErrorKind};
use crate::store::BlobStore;
use std::io::Read;
use std::time::Duration;
use ureq::http;

pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .build();
        Http { agent: ureq::Agent::new_with_config(config) }
    }
}

impl Http {
    pub fn send(&self, store: &BlobStore, request: HttpRequest, max_body: u32) -> Result<HttpResponse, CoreError> {
        let shown = format!("{} {}", request.method, request.url.split('?').next().unwrap_or(""));
        let fail = |e: &dyn std::fmt::Display| error(ErrorKind::Registry, format!("{shown}: {e}"));
        let mut builder = http::Request::builder().method(request.method.as_str()).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = match request.body {
            HttpBody::Empty => self.agent.run(builder.body(()).map_err(|e| fail(&e))?),
            HttpBody::Bytes(bytes) => self.agent.run(builder.body(bytes).map_err(|e| fail(&e))?),
            HttpBody::Blob(digest) => {
                let path = store.blob_path(&digest)?;
                let mut file = std::fs::File::open(&path).map_err(|e| io_error(ErrorKind::Store, &path, &e))?;
                let body = ureq::SendBody::from_reader(&mut file);
                self.agent.run(builder.body(body).map_err(|e| fail(&e))?)
            }
        }
        .map_err(|e| fail(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        response.into_body().into_reader().take(max_body as u64).read_to_end(&mut body).map_err(|e| fail(&e))?;
        Ok(HttpResponse { status, headers, body })
    }
}

//! The code exchange of an SSO sign-in (API.md §9): the authorization code
//! and the PKCE verifier for an ID token, at the token endpoint of an
//! organization's issuer, through the guarded client.

use serde::Deserialize;

use super::{read_bounded, Discovery, Issuers};

impl Issuers {
    /// Exchanges an authorization `code` at the token endpoint of an
    /// organization's issuer (its `discovery`) with the client's secret and
    /// the flow's PKCE `verifier`: the ID token it answers.
    pub async fn exchange_code(
        &self,
        discovery: &Discovery,
        client: (&str, &str),
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String, String> {
        let (client_id, client_secret) = client;
        let endpoint = discovery
            .token_endpoint
            .as_deref()
            .ok_or("the discovery document names no token_endpoint")?;
        let url = self.guarded_url(endpoint)?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut request = self.guarded.post(url).header("accept", "application/json");
        if discovery.secret_in_form() {
            form.push(("client_id", client_id));
            form.push(("client_secret", client_secret));
        } else {
            // RFC 6749 §2.3.1: both form-encoded before Basic.
            let encode =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(client_id), Some(encode(client_secret)));
        }
        let mut response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("the token endpoint: {e}"))?;
        let status = response.status();
        let body = read_bounded(&mut response, "the token endpoint").await?;
        #[derive(Deserialize)]
        struct Answer {
            id_token: Option<String>,
            error: Option<String>,
            error_description: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| format!("the token endpoint answered {status} without JSON"))?;
        if let Some(error) = answer.error {
            let about = answer.error_description.unwrap_or_default();
            return Err(
                format!("the token endpoint refused the code: {error} {about}")
                    .trim_end()
                    .to_string(),
            );
        }
        if !status.is_success() {
            return Err(format!("the token endpoint answered {status}"));
        }
        answer
            .id_token
            .ok_or_else(|| "the token endpoint answered no id_token".into())
    }
}

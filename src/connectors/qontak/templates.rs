//! Templates: `POST broadcasts/whatsapp/direct` to the room's phone number, with the template id
//! looked up by name (and language) through `GET templates/whatsapp` and remembered.

use super::channel::QontakChannel;
use super::client::VENDOR;
use super::wire::{
    BodyParameter, CreatedBroadcast, DirectBroadcast, Envelope, Language, QTemplate,
    TemplateParameters,
};
use crate::connectors::{ConnectorError, SentMessage};
use crate::domain::{ExternalId, Recipient};
use std::collections::BTreeSet;

const TEMPLATE_PAGE: usize = 100;
const TEMPLATE_PAGES: usize = 10;

impl QontakChannel {
    pub(super) async fn send_template(
        &self,
        to: &Recipient,
        name: &str,
        language: &str,
        parameters: &[String],
    ) -> Result<SentMessage, ConnectorError> {
        let room = to.conversation.as_str();
        let given_phone = to
            .phone
            .as_deref()
            .map(digits_only)
            .filter(|p| !p.is_empty());
        let needs_room = given_phone.is_none() || self.integration.is_none();
        let facts = if needs_room {
            self.rooms.facts(&self.client, room).await?
        } else {
            self.rooms.get(room).unwrap_or_default()
        };
        let phone = given_phone
            .or_else(|| facts.phone.as_deref().map(digits_only))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| permanent(format!("no phone number is known for room {room}")))?;
        let to_name = to
            .name
            .clone()
            .or(facts.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| phone.clone());
        let integration = self
            .integration
            .clone()
            .or(facts.integration.clone())
            .ok_or_else(|| {
                permanent(format!(
                    "no channel integration is known for room {room}: set channel_integration_id \
                     of channel {:?}",
                    self.id.as_str()
                ))
            })?;
        let template_id = self.template_id(name, language).await?;
        let request = DirectBroadcast {
            to_number: &phone,
            to_name: &to_name,
            message_template_id: &template_id,
            channel_integration_id: &integration,
            language: Language { code: language },
            parameters: TemplateParameters {
                body: parameters
                    .iter()
                    .enumerate()
                    .map(|(i, text)| BodyParameter {
                        key: (i + 1).to_string(),
                        value: text.clone(),
                        value_text: text.clone(),
                    })
                    .collect(),
            },
        };
        let url = self.client.endpoint("broadcasts/whatsapp/direct", &[])?;
        let answer: Result<Envelope<CreatedBroadcast>, _> = self
            .client
            .call(
                &format!("sending template {name:?} to room {room}"),
                |http| http.post(url.clone()).json(&request),
            )
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                // The template may have been deleted or renamed: look it up again next time.
                self.forget_template(name, language);
                return Err(err);
            }
        };
        let id = answer
            .data
            .id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| {
                permanent("Qontak accepted the template but its answer has no id".into())
            })?;
        Ok(SentMessage {
            id: ExternalId::new(id),
            alt_id: None,
        })
    }

    /// The template's id: `name` itself when it already is one (a UUID), else looked up.
    async fn template_id(&self, name: &str, language: &str) -> Result<String, ConnectorError> {
        if uuid::Uuid::parse_str(name.trim()).is_ok() {
            return Ok(name.trim().to_owned());
        }
        let key = (name.to_owned(), language_key(language));
        if let Some(id) = self.cached_templates(|cache| cache.get(&key).cloned()) {
            return Ok(id);
        }
        let templates = self.list_templates().await?;
        self.cached_templates(|cache| {
            // Approved ones win over others of the same name and language.
            let mut ordered: Vec<&QTemplate> = templates.iter().collect();
            ordered.sort_by_key(|t| {
                t.status
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("approved"))
            });
            for template in ordered {
                if let (Some(id), Some(t_name)) = (&template.id, &template.name) {
                    let t_language = language_key(template.language.as_deref().unwrap_or(""));
                    cache.insert((t_name.clone(), t_language), id.clone());
                }
            }
        });
        if let Some(id) = self.cached_templates(|cache| cache.get(&key).cloned()) {
            return Ok(id);
        }
        let languages: BTreeSet<String> = templates
            .iter()
            .filter(|t| t.name.as_deref() == Some(name))
            .filter_map(|t| t.language.clone())
            .collect();
        Err(permanent(if languages.is_empty() {
            format!("Qontak has no WhatsApp template named {name:?}")
        } else {
            format!(
                "Qontak's template {name:?} has no language {language:?} (it has {})",
                languages.into_iter().collect::<Vec<_>>().join(", ")
            )
        }))
    }

    /// Every template, following the cursor for at most `TEMPLATE_PAGES` pages.
    async fn list_templates(&self) -> Result<Vec<QTemplate>, ConnectorError> {
        let url = self.client.endpoint("templates/whatsapp", &[])?;
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..TEMPLATE_PAGES {
            let mut query = vec![("limit", TEMPLATE_PAGE.to_string())];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
                query.push(("cursor_direction", "after".to_owned()));
            }
            let page: Envelope<Vec<QTemplate>> = self
                .client
                .get("listing the WhatsApp templates", url.clone(), &query)
                .await?;
            let count = page.data.len();
            let next = page.next_cursor();
            all.extend(page.data);
            if count < TEMPLATE_PAGE || next.is_none() {
                break;
            }
            cursor = next;
        }
        Ok(all)
    }

    fn cached_templates<R>(
        &self,
        f: impl FnOnce(&mut std::collections::HashMap<(String, String), String>) -> R,
    ) -> R {
        let mut cache = self
            .templates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut cache)
    }

    fn forget_template(&self, name: &str, language: &str) {
        let key = (name.to_owned(), language_key(language));
        self.cached_templates(|cache| cache.remove(&key));
    }
}

/// `en_US`, `en-us` → `en_us`.
fn language_key(language: &str) -> String {
    language.trim().replace('-', "_").to_ascii_lowercase()
}

fn digits_only(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

fn permanent(message: String) -> ConnectorError {
    ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message,
    }
}
